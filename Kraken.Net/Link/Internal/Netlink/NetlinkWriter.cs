// Builds one netlink request in a caller's buffer: header, fixed body, attributes padded to 4 bytes. The sequence
// number is left 0 here; the client stamps it when it sends.
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Kraken.Net.Link.Internal.Netlink;

internal ref struct NetlinkWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public NetlinkWriter(Span<byte> buffer, ushort type, ushort flags)
    {
        if (buffer.Length < Rtnl.HeaderLength)
        {
            throw new ArgumentException("a netlink request needs at least a header's room", nameof(buffer));
        }

        _buffer = buffer;
        _buffer[..Rtnl.HeaderLength].Clear();
        MemoryMarshal.Write(_buffer[4..], in type);
        MemoryMarshal.Write(_buffer[6..], in flags);
        _length = Rtnl.HeaderLength;
    }

    /// <summary>Appends <paramref name="length"/> zeroed bytes (a fixed body such as <c>ifinfomsg</c>) and returns them.</summary>
    public Span<byte> Body(int length)
    {
        var body = Take(length);
        body.Clear();
        return body;
    }

    public void Attribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        var total = Rtnl.AttributeHeaderLength + value.Length;
        var attribute = Take(total);
        var length = (ushort)total;
        MemoryMarshal.Write(attribute, in length);
        MemoryMarshal.Write(attribute[2..], in type);
        value.CopyTo(attribute[Rtnl.AttributeHeaderLength..]);
    }

    public void AttributeU32(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(uint)];
        MemoryMarshal.Write(bytes, in value);
        Attribute(type, bytes);
    }

    /// <summary>An IPv4 address given as a host-order integer, written in network order.</summary>
    public void AttributeIpv4(ushort type, uint address)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        Attribute(type, bytes);
    }

    /// <summary>Writes the total length into the header; the request is <c>buffer[..returned]</c>.</summary>
    public readonly int Finish()
    {
        var length = (uint)_length;
        MemoryMarshal.Write(_buffer, in length);
        return _length;
    }

    private Span<byte> Take(int length)
    {
        var start = Rtnl.Align(_length);
        if (start + length > _buffer.Length)
        {
            throw new InvalidOperationException($"a netlink request of {start + length} bytes does not fit its {_buffer.Length}-byte buffer");
        }

        _buffer[_length..start].Clear();
        _length = start + length;
        return _buffer.Slice(start, length);
    }
}
