// TFTP wire format (RFC 1350, options RFC 2347-2349, windowsize RFC 7440): parsing requests, writing packets.
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Kraken.Modules.Pxe.Tftp.Internal;

/// <summary>TFTP opcodes: the first two bytes of every packet, big-endian.</summary>
internal enum TftpOpcode : ushort
{
    ReadRequest = 1,    // RRQ   | 01 | filename | 0 | mode | 0 | (opt | 0 | value | 0)*
    WriteRequest = 2,   // WRQ   | 02 | ... as RRQ
    Data = 3,           // DATA  | 03 | block# (2) | data (0..blksize)
    Ack = 4,            // ACK   | 04 | block# (2)
    Error = 5,          // ERROR | 05 | code (2) | message | 0
    OptionAck = 6,      // OACK  | 06 | (opt | 0 | value | 0)*
}

/// <summary>TFTP error codes (RFC 1350, 2347).</summary>
internal enum TftpErrorCode : ushort
{
    NotDefined = 0,
    FileNotFound = 1,
    AccessViolation = 2,
    DiskFull = 3,
    IllegalOperation = 4,
    UnknownTransferId = 5,
    FileExists = 6,
    NoSuchUser = 7,
    OptionNegotiation = 8,
}

internal enum TftpMode
{
    Octet,
    NetAscii,
}

/// <summary>A parsed read request; option fields are null when the client did not send that option.</summary>
internal sealed record TftpRequest(string Path, TftpMode Mode, int? BlockSize, long? TransferSize, int? Timeout, int? WindowSize);

internal static class TftpWire
{
    public const int HeaderSize = 4;
    public const int DefaultBlockSize = 512;
    public const int MinBlockSize = 8;          // RFC 2348
    public const int MaxBlockSize = 65464;      // RFC 2348: 65535 - 20 (IP) - 8 (UDP) - 4 (TFTP) - 39 slack
    public const int MaxWindowSize = 65535;     // RFC 7440

    /// <summary>Longest error message we send (and the size of buffers that hold only control packets).</summary>
    public const int MaxControlPacket = 516;

    private static ReadOnlySpan<byte> Octet => "octet"u8;
    private static ReadOnlySpan<byte> NetAscii => "netascii"u8;
    private static ReadOnlySpan<byte> BlkSize => "blksize"u8;
    private static ReadOnlySpan<byte> TSize => "tsize"u8;
    private static ReadOnlySpan<byte> TimeoutName => "timeout"u8;
    private static ReadOnlySpan<byte> WindowSizeName => "windowsize"u8;

    public static bool TryReadOpcode(ReadOnlySpan<byte> packet, out TftpOpcode opcode)
    {
        opcode = 0;
        if (packet.Length < 2)
        {
            return false;
        }

        opcode = (TftpOpcode)BinaryPrimitives.ReadUInt16BigEndian(packet);
        return true;
    }

    /// <summary>
    /// Parses an RRQ or WRQ (opcode already checked). False with <paramref name="reason"/> when malformed;
    /// <paramref name="detail"/> is then a message fit for an ERROR packet.
    /// </summary>
    public static bool TryParseRequest(ReadOnlySpan<byte> packet, out TftpRequest? request, out TftpDropReason reason, out string detail)
    {
        request = null;
        reason = default;
        detail = "";
        var rest = packet[2..];
        if (!TryTakeString(ref rest, out var fileBytes) || !TryTakeString(ref rest, out var modeBytes))
        {
            reason = packet.Length < 4 ? TftpDropReason.Truncated : TftpDropReason.MissingNul;
            detail = "malformed request";
            return false;
        }

        if (fileBytes.IsEmpty)
        {
            reason = TftpDropReason.Truncated;
            detail = "empty file name";
            return false;
        }

        TftpMode mode;
        if (Ascii.EqualsIgnoreCase(modeBytes, Octet))
        {
            mode = TftpMode.Octet;
        }
        else if (Ascii.EqualsIgnoreCase(modeBytes, NetAscii))
        {
            mode = TftpMode.NetAscii;
        }
        else
        {
            reason = TftpDropReason.BadMode;
            detail = "unsupported mode";
            return false;
        }

        int? blockSize = null, timeout = null, windowSize = null;
        long? transferSize = null;
        while (!rest.IsEmpty)
        {
            if (rest.IndexOfAnyExcept((byte)0) < 0)
            {
                break;   // zero padding after the last option: some ROMs send it
            }

            if (!TryTakeString(ref rest, out var name) || !TryTakeString(ref rest, out var value))
            {
                reason = TftpDropReason.BadOption;
                detail = "option without a value";
                return false;
            }

            if (Ascii.EqualsIgnoreCase(name, BlkSize))
            {
                // Values above the RFC maximum are capped rather than refused: some clients ask for 65535 or more.
                if (!TryNumber(value, out var v) || v < MinBlockSize)
                {
                    reason = TftpDropReason.BadOption;
                    detail = "bad blksize";
                    return false;
                }

                blockSize = (int)Math.Min(v, MaxBlockSize);
            }
            else if (Ascii.EqualsIgnoreCase(name, TSize))
            {
                if (!TryNumber(value, out var v))
                {
                    reason = TftpDropReason.BadOption;
                    detail = "bad tsize";
                    return false;
                }

                transferSize = v;
            }
            else if (Ascii.EqualsIgnoreCase(name, TimeoutName))
            {
                if (!TryNumber(value, out var v) || v < 1 || v > 255)
                {
                    reason = TftpDropReason.BadOption;
                    detail = "bad timeout";
                    return false;
                }

                timeout = (int)v;
            }
            else if (Ascii.EqualsIgnoreCase(name, WindowSizeName))
            {
                if (!TryNumber(value, out var v) || v < 1 || v > MaxWindowSize)
                {
                    reason = TftpDropReason.BadOption;
                    detail = "bad windowsize";
                    return false;
                }

                windowSize = (int)v;
            }

            // Any other option is ignored (RFC 2347), and so not acknowledged.
        }

        request = new TftpRequest(Encoding.UTF8.GetString(fileBytes), mode, blockSize, transferSize, timeout, windowSize);
        return true;
    }

    public static void WriteDataHeader(Span<byte> dest, ushort block)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, (ushort)TftpOpcode.Data);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], block);
    }

    public static int WriteAck(Span<byte> dest, ushort block)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, (ushort)TftpOpcode.Ack);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], block);
        return HeaderSize;
    }

    /// <summary>Writes an ERROR packet; the message is cut to fit <see cref="MaxControlPacket"/>.</summary>
    public static int WriteError(Span<byte> dest, TftpErrorCode code, string message)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, (ushort)TftpOpcode.Error);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)code);
        var room = Math.Min(dest.Length, MaxControlPacket) - HeaderSize - 1;
        var text = message.Length > room ? message[..room] : message;
        var n = Encoding.ASCII.GetBytes(text, dest[HeaderSize..]);
        dest[HeaderSize + n] = 0;
        return HeaderSize + n + 1;
    }

    /// <summary>Writes an OACK carrying only the options given (null = not acknowledged).</summary>
    public static int WriteOptionAck(Span<byte> dest, int? blockSize, long? transferSize, int? timeout, int? windowSize)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, (ushort)TftpOpcode.OptionAck);
        var n = 2;
        if (blockSize is { } b)
        {
            n += WriteOption(dest[n..], BlkSize, b);
        }

        if (transferSize is { } t)
        {
            n += WriteOption(dest[n..], TSize, t);
        }

        if (timeout is { } o)
        {
            n += WriteOption(dest[n..], TimeoutName, o);
        }

        if (windowSize is { } w)
        {
            n += WriteOption(dest[n..], WindowSizeName, w);
        }

        return n;
    }

    private static int WriteOption(Span<byte> dest, ReadOnlySpan<byte> name, long value)
    {
        name.CopyTo(dest);
        var n = name.Length;
        dest[n++] = 0;
        value.TryFormat(dest[n..], out var written, default, CultureInfo.InvariantCulture);
        n += written;
        dest[n++] = 0;
        return n;
    }

    private static bool TryTakeString(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> value)
    {
        var nul = rest.IndexOf((byte)0);
        if (nul < 0)
        {
            value = default;
            return false;
        }

        value = rest[..nul];
        rest = rest[(nul + 1)..];
        return true;
    }

    private static bool TryNumber(ReadOnlySpan<byte> text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 0;
}
