// Bounds-checked readers over netlink datagrams: the messages of one datagram and the attributes of one message.
// Nothing here allocates; a length that points outside its buffer is a NetlinkProtocolException, nothing else.
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Kraken.Net.Link.Internal.Netlink;

/// <summary>One message: its header fields and the bytes after the header (up to its own length, padding excluded).</summary>
internal readonly ref struct NetlinkMessage
{
    public NetlinkMessage(ushort type, ushort flags, uint sequence, uint portId, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Flags = flags;
        Sequence = sequence;
        PortId = portId;
        Payload = payload;
    }

    public ushort Type { get; }

    public ushort Flags { get; }

    public uint Sequence { get; }

    public uint PortId { get; }

    public ReadOnlySpan<byte> Payload { get; }
}

/// <summary>Reads the messages of one datagram in order.</summary>
internal ref struct NetlinkMessageReader
{
    private ReadOnlySpan<byte> _remaining;

    public NetlinkMessageReader(ReadOnlySpan<byte> datagram)
    {
        _remaining = datagram;
    }

    /// <summary>False at the end of the datagram; throws <see cref="NetlinkProtocolException"/> on a bad length.</summary>
    public bool TryRead(out NetlinkMessage message)
    {
        message = default;
        if (_remaining.IsEmpty)
        {
            return false;
        }

        if (_remaining.Length < Rtnl.HeaderLength)
        {
            NetlinkProtocolException.Throw($"{_remaining.Length} bytes left in the datagram, less than a message header");
        }

        var length = MemoryMarshal.Read<uint>(_remaining);
        if (length < Rtnl.HeaderLength || length > (uint)_remaining.Length)
        {
            NetlinkProtocolException.Throw($"message length {length} outside {Rtnl.HeaderLength}..{_remaining.Length} (the bytes left in the datagram)");
        }

        var type = MemoryMarshal.Read<ushort>(_remaining[4..]);
        var flags = MemoryMarshal.Read<ushort>(_remaining[6..]);
        var sequence = MemoryMarshal.Read<uint>(_remaining[8..]);
        var portId = MemoryMarshal.Read<uint>(_remaining[12..]);
        message = new NetlinkMessage(type, flags, sequence, portId, _remaining[Rtnl.HeaderLength..(int)length]);

        // The last message of a datagram may end without its padding.
        var next = Rtnl.Align((int)length);
        _remaining = next >= _remaining.Length ? [] : _remaining[next..];
        return true;
    }
}

/// <summary>Reads a run of attributes (<c>struct rtattr</c> / <c>struct nlattr</c>), each padded to 4 bytes.</summary>
internal ref struct NetlinkAttributeReader
{
    private ReadOnlySpan<byte> _remaining;

    public NetlinkAttributeReader(ReadOnlySpan<byte> attributes)
    {
        _remaining = attributes;
    }

    /// <summary>False at the end; throws <see cref="NetlinkProtocolException"/> when an attribute overruns its message.</summary>
    public bool TryRead(out ushort type, out ReadOnlySpan<byte> value)
    {
        type = 0;
        value = default;
        if (_remaining.IsEmpty)
        {
            return false;
        }

        if (_remaining.Length < Rtnl.AttributeHeaderLength)
        {
            NetlinkProtocolException.Throw($"{_remaining.Length} bytes left in the message, less than an attribute header");
        }

        var length = MemoryMarshal.Read<ushort>(_remaining);
        if (length < Rtnl.AttributeHeaderLength || length > _remaining.Length)
        {
            NetlinkProtocolException.Throw($"attribute length {length} outside {Rtnl.AttributeHeaderLength}..{_remaining.Length} (the bytes left in the message)");
        }

        type = (ushort)(MemoryMarshal.Read<ushort>(_remaining[2..]) & Rtnl.AttributeTypeMask);
        value = _remaining[Rtnl.AttributeHeaderLength..length];
        var next = Rtnl.Align(length);
        _remaining = next >= _remaining.Length ? [] : _remaining[next..];
        return true;
    }
}

/// <summary>Typed reads of attribute values, each checking the value's size.</summary>
internal static class NetlinkValue
{
    public static uint U32(ReadOnlySpan<byte> value, string name)
    {
        if (value.Length != sizeof(uint))
        {
            NetlinkProtocolException.Throw($"{name} is {value.Length} bytes, not 4");
        }

        return MemoryMarshal.Read<uint>(value);
    }

    /// <summary>An IPv4 address as a host-order integer (198.18.0.1 = 0xC6120001).</summary>
    public static uint Ipv4(ReadOnlySpan<byte> value, string name)
    {
        if (value.Length != 4)
        {
            NetlinkProtocolException.Throw($"{name} is {value.Length} bytes, not an IPv4 address");
        }

        return BinaryPrimitives.ReadUInt32BigEndian(value);
    }

    /// <summary>A NUL-terminated string of at most <paramref name="maxLength"/> characters (the NUL is optional).</summary>
    public static string String(ReadOnlySpan<byte> value, int maxLength, string name)
    {
        var end = value.IndexOf((byte)0);
        var text = end < 0 ? value : value[..end];
        if (text.IsEmpty || text.Length > maxLength)
        {
            NetlinkProtocolException.Throw($"{name} of {text.Length} characters, not 1..{maxLength}");
        }

        return System.Text.Encoding.UTF8.GetString(text);
    }
}
