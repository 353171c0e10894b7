// DHCPv4 wire format (RFC 2131 section 2, RFC 2132): parse a datagram into a DhcpMessage and write messages
// with DhcpWriter. Parsing never allocates and never reads outside the datagram.
using System.Buffers.Binary;
using Kraken.Net.Packets;

namespace Kraken.Modules.Pxe.Dhcp;

public static class DhcpCodec
{
    public const int ServerNameOffset = 44;
    public const int ServerNameLength = 64;
    public const int FileOffset = 108;
    public const int FileLength = 128;
    public const int CookieOffset = 236;
    public const int OptionsOffset = 240;

    /// <summary>The BOOTP minimum message size that old relays and clients expect (RFC 1542 2.1).</summary>
    public const int MinimumLength = 300;

    /// <summary>The magic cookie 0x63825363 that opens the options field (RFC 2131 section 3).</summary>
    public const uint MagicCookie = 0x63825363;

    /// <summary>
    /// Parses a DHCP message (either op). Option overload (52) is honoured: options in file and then sname are
    /// read after the options field. Every options area must end with the end option.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out DhcpMessage message, out DhcpDropReason reason)
    {
        message = default;
        if (datagram.Length < OptionsOffset)
        {
            reason = DhcpDropReason.Truncated;
            return false;
        }

        message.Op = datagram[0];
        message.HardwareType = datagram[1];
        message.HardwareLength = datagram[2];
        message.Hops = datagram[3];
        if (message.HardwareLength > 16)
        {
            reason = DhcpDropReason.BadHardwareAddress;
            return false;
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(datagram[CookieOffset..]) != MagicCookie)
        {
            reason = DhcpDropReason.NoMagicCookie;
            return false;
        }

        message.TransactionId = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        message.Seconds = BinaryPrimitives.ReadUInt16BigEndian(datagram[8..]);
        message.Flags = BinaryPrimitives.ReadUInt16BigEndian(datagram[10..]);
        message.ClientAddress = BinaryPrimitives.ReadUInt32BigEndian(datagram[12..]);
        message.YourAddress = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        message.ServerAddress = BinaryPrimitives.ReadUInt32BigEndian(datagram[20..]);
        message.RelayAddress = BinaryPrimitives.ReadUInt32BigEndian(datagram[24..]);
        if (message.HardwareType == 1 && message.HardwareLength == MacAddress.Length)
        {
            message.ClientMac = MacAddress.Read(datagram[28..]);
        }

        reason = ParseArea(datagram, OptionsOffset, datagram.Length, true, ref message);
        if (reason == default && (message.Overload & 1) != 0)
        {
            reason = ParseArea(datagram, FileOffset, FileOffset + FileLength, false, ref message);
        }

        if (reason == default && (message.Overload & 2) != 0)
        {
            reason = ParseArea(datagram, ServerNameOffset, ServerNameOffset + ServerNameLength, false, ref message);
        }

        if (reason != default)
        {
            return false;
        }

        if (message.MessageType == DhcpMessageType.None)
        {
            reason = DhcpDropReason.NoMessageType;
            return false;
        }

        if ((message.Overload & 1) == 0)
        {
            message.BootFile = CString(datagram, FileOffset, FileLength);
        }

        if ((message.Overload & 2) == 0)
        {
            message.ServerName = CString(datagram, ServerNameOffset, ServerNameLength);
        }

        return true;
    }

    // Returns default (NotDhcp, value 0) for success: the reasons below are all non-zero.
    private static DhcpDropReason ParseArea(ReadOnlySpan<byte> d, int start, int end, bool optionsField, ref DhcpMessage m)
    {
        var i = start;
        while (true)
        {
            if (i >= end)
            {
                return DhcpDropReason.MissingEnd;
            }

            var code = d[i];
            if (code == DhcpOption.Pad)
            {
                i++;
                continue;
            }

            if (code == DhcpOption.End)
            {
                return default;
            }

            if (i + 1 >= end)
            {
                return DhcpDropReason.OptionOverflow;
            }

            var length = d[i + 1];
            var data = i + 2;
            if (data + length > end)
            {
                return DhcpDropReason.OptionOverflow;
            }

            var problem = Apply(d.Slice(data, length), code, data, optionsField, ref m);
            if (problem != default)
            {
                return problem;
            }

            i = data + length;
        }
    }

    private static DhcpDropReason Apply(ReadOnlySpan<byte> v, byte code, int offset, bool optionsField, ref DhcpMessage m)
    {
        switch (code)
        {
            case DhcpOption.MessageType:
                if (v.Length != 1)
                {
                    return DhcpDropReason.BadOptionLength;
                }

                if (m.MessageType == DhcpMessageType.None)
                {
                    m.MessageType = (DhcpMessageType)v[0];
                }

                break;
            case DhcpOption.Overload:
                if (v.Length != 1)
                {
                    return DhcpDropReason.BadOptionLength;
                }

                if (v[0] is 0 or > 3)
                {
                    return DhcpDropReason.BadOverload;
                }

                if (optionsField)
                {
                    m.Overload = v[0];    // only meaningful in the options field itself
                }

                break;
            case DhcpOption.RequestedAddress:
            case DhcpOption.ServerIdentifier:
            case DhcpOption.LeaseTime:
                if (v.Length != 4)
                {
                    return DhcpDropReason.BadOptionLength;
                }

                var value = BinaryPrimitives.ReadUInt32BigEndian(v);
                if (code == DhcpOption.RequestedAddress)
                {
                    m.RequestedAddress ??= value;
                }
                else if (code == DhcpOption.ServerIdentifier)
                {
                    m.ServerIdentifier ??= value;
                }
                else
                {
                    m.LeaseSeconds ??= value;
                }

                break;
            case DhcpOption.MaxMessageSize:
                if (v.Length != 2)
                {
                    return DhcpDropReason.BadOptionLength;
                }

                m.MaxMessageSize ??= BinaryPrimitives.ReadUInt16BigEndian(v);
                break;
            case DhcpOption.ClientArch:
                if (v.Length < 2 || v.Length % 2 != 0)
                {
                    return DhcpDropReason.BadOptionLength;
                }

                m.ClientArchType ??= BinaryPrimitives.ReadUInt16BigEndian(v);
                break;
            case DhcpOption.ClientUuid:
                if (v.Length != 17)
                {
                    return DhcpDropReason.BadOptionLength;
                }

                Keep(ref m.ClientUuid, offset, v.Length);
                break;
            case DhcpOption.ClientIdentifier:
                if (v.Length < 2)
                {
                    return DhcpDropReason.BadOptionLength;
                }

                Keep(ref m.ClientId, offset, v.Length);
                break;
            case DhcpOption.VendorClass:
                Keep(ref m.VendorClass, offset, v.Length);
                break;
            case DhcpOption.UserClass:
                Keep(ref m.UserClass, offset, v.Length);
                break;
            case DhcpOption.HostName:
                Keep(ref m.HostName, offset, v.Length);
                break;
            case DhcpOption.ParameterRequestList:
                Keep(ref m.ParameterRequestList, offset, v.Length);
                break;
            case DhcpOption.Ipxe:
                Keep(ref m.IpxeOptions, offset, v.Length);
                break;
            case DhcpOption.RelayAgentInformation:
                Keep(ref m.RelayAgentInformation, offset, v.Length);
                break;
            default:
                break;
        }

        return default;
    }

    private static void Keep(ref OptionSlice slot, int offset, int length)
    {
        if (!slot.Present)
        {
            slot = new OptionSlice(offset, length);
        }
    }

    private static OptionSlice CString(ReadOnlySpan<byte> d, int offset, int length)
    {
        var field = d.Slice(offset, length);
        var end = field.IndexOf((byte)0);
        var used = end < 0 ? length : end;
        return used == 0 ? default : new OptionSlice(offset, used);
    }
}

/// <summary>Writes one DHCP message into a span: the fixed header, then options, then <see cref="Finish"/>.</summary>
public ref struct DhcpWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public DhcpWriter(Span<byte> buffer)
    {
        if (buffer.Length < DhcpCodec.MinimumLength)
        {
            throw new ArgumentException($"a DHCP message needs at least {DhcpCodec.MinimumLength} bytes", nameof(buffer));
        }

        _buffer = buffer;
        _position = 0;
    }

    public readonly int Remaining => _buffer.Length - _position - 1;   // room kept for the end option

    public void Header(byte op, uint transactionId, ushort seconds, ushort flags, uint clientAddress, uint yourAddress,
        uint serverAddress, uint relayAddress, MacAddress clientMac, ReadOnlySpan<char> serverName = default,
        ReadOnlySpan<char> file = default, byte hops = 0)
    {
        var b = _buffer;
        b[..DhcpCodec.OptionsOffset].Clear();
        b[0] = op;
        b[1] = 1;                              // htype Ethernet
        b[2] = MacAddress.Length;
        b[3] = hops;
        BinaryPrimitives.WriteUInt32BigEndian(b[4..], transactionId);
        BinaryPrimitives.WriteUInt16BigEndian(b[8..], seconds);
        BinaryPrimitives.WriteUInt16BigEndian(b[10..], flags);
        BinaryPrimitives.WriteUInt32BigEndian(b[12..], clientAddress);
        BinaryPrimitives.WriteUInt32BigEndian(b[16..], yourAddress);
        BinaryPrimitives.WriteUInt32BigEndian(b[20..], serverAddress);
        BinaryPrimitives.WriteUInt32BigEndian(b[24..], relayAddress);
        clientMac.Write(b[28..]);
        Ascii(serverName, b.Slice(DhcpCodec.ServerNameOffset, DhcpCodec.ServerNameLength - 1));
        Ascii(file, b.Slice(DhcpCodec.FileOffset, DhcpCodec.FileLength - 1));
        BinaryPrimitives.WriteUInt32BigEndian(b[DhcpCodec.CookieOffset..], DhcpCodec.MagicCookie);
        _position = DhcpCodec.OptionsOffset;
    }

    public void Option(byte code, scoped ReadOnlySpan<byte> data)
    {
        if (data.Length > byte.MaxValue || data.Length + 2 > Remaining)
        {
            throw new DhcpReplyTooLargeException($"option {code} of {data.Length} bytes does not fit");
        }

        _buffer[_position] = code;
        _buffer[_position + 1] = (byte)data.Length;
        data.CopyTo(_buffer[(_position + 2)..]);
        _position += 2 + data.Length;
    }

    public void Option(byte code, byte value) => Option(code, [value]);

    public void OptionUInt16(byte code, ushort value)
    {
        Span<byte> data = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(data, value);
        Option(code, data);
    }

    public void OptionUInt32(byte code, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(data, value);
        Option(code, data);
    }

    public void OptionAscii(byte code, ReadOnlySpan<char> text)
    {
        Span<byte> data = stackalloc byte[byte.MaxValue];
        var length = Math.Min(text.Length, byte.MaxValue);
        Ascii(text[..length], data);
        Option(code, data[..length]);
    }

    /// <summary>Writes the end option, pads to <paramref name="minimumLength"/> and returns the message length.</summary>
    public int Finish(int minimumLength = DhcpCodec.MinimumLength)
    {
        _buffer[_position++] = DhcpOption.End;
        var length = Math.Min(Math.Max(_position, minimumLength), _buffer.Length);
        _buffer[_position..length].Clear();
        return length;
    }

    private static void Ascii(ReadOnlySpan<char> text, Span<byte> destination)
    {
        var length = Math.Min(text.Length, destination.Length);
        for (var i = 0; i < length; i++)
        {
            var c = text[i];
            destination[i] = c is >= ' ' and <= '~' ? (byte)c : (byte)'?';
        }
    }
}

/// <summary>A message does not fit the space given to <see cref="DhcpWriter"/>.</summary>
public sealed class DhcpReplyTooLargeException : InvalidOperationException
{
    public DhcpReplyTooLargeException()
    {
    }

    public DhcpReplyTooLargeException(string message)
        : base(message)
    {
    }

    public DhcpReplyTooLargeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
