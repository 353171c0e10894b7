// The fixed 32-byte header every sync frame starts with (docs/protocol.md, "Frame layout").
using System.Buffers.Binary;

namespace Kraken.Net.Sync;

/// <summary>
/// A decoded frame header. Wire form, all integers big-endian:
/// <c>magic(1)=0x4B 'K' | version(1)=0x01 | type(1) | flags(1) | sender(16) | sequence(8) | payload length(4)</c>,
/// followed by the payload and a 16-byte MAC (HMAC-SHA256 truncated to 128 bits) over header and payload.
/// </summary>
public readonly record struct FrameHeader(MessageType Type, byte Flags, UInt128 Sender, ulong Sequence, int PayloadLength)
{
    /// <summary>Header bytes.</summary>
    public const int Size = 32;

    /// <summary>MAC bytes after the payload: HMAC-SHA256 truncated to 128 bits (as RFC 4868 does for IPsec).</summary>
    public const int MacSize = 16;

    /// <summary>Header and MAC: what a frame costs beyond its payload.</summary>
    public const int Overhead = Size + MacSize;

    /// <summary>First byte of every frame: ASCII 'K'.</summary>
    public const byte Magic = 0x4B;

    /// <summary>Protocol version this code speaks.</summary>
    public const byte Version = 1;

    /// <summary>
    /// Flag bit 0 of a join frame (request, challenge, reject): it is MAC'd under the join key of the child's bootstrap
    /// credential, not of the cluster join secret (docs/protocol.md 5.2). Other frames send 0.
    /// </summary>
    public const byte BootstrapFlag = 0x01;

    /// <summary>Whole frame length: header, payload, MAC.</summary>
    public int FrameLength => Size + PayloadLength + MacSize;

    /// <summary>
    /// Decodes and validates a header. Throws <see cref="SyncProtocolException"/> for bad magic, version or type
    /// (<see cref="DropReason.Malformed"/>) and for a length above <paramref name="maxPayload"/>
    /// (<see cref="DropReason.Oversize"/>): the check comes before anything is allocated for the payload.
    /// </summary>
    public static FrameHeader Read(ReadOnlySpan<byte> header, int maxPayload)
    {
        if (header.Length < Size)
        {
            SyncProtocolException.Throw(DropReason.Malformed, $"A frame header is {Size} bytes, got {header.Length}.");
        }

        if (header[0] != Magic)
        {
            SyncProtocolException.Throw(DropReason.Malformed, $"Bad magic 0x{header[0]:X2}, expected 0x{Magic:X2}.");
        }

        if (header[1] != Version)
        {
            SyncProtocolException.Throw(DropReason.Malformed, $"Unsupported protocol version {header[1]}, expected {Version}.");
        }

        if (!SyncProtocolNames.IsDefined(header[2]))
        {
            SyncProtocolException.Throw(DropReason.Malformed, $"Unknown message type {header[2]}.");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[28..]);
        if (length > (uint)maxPayload)
        {
            SyncProtocolException.Throw(DropReason.Oversize, $"Payload length {length} exceeds the maximum {maxPayload}.");
        }

        var sender = new UInt128(BinaryPrimitives.ReadUInt64BigEndian(header[4..]), BinaryPrimitives.ReadUInt64BigEndian(header[12..]));
        return new FrameHeader((MessageType)header[2], header[3], sender, BinaryPrimitives.ReadUInt64BigEndian(header[20..]), (int)length);
    }

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        destination[0] = Magic;
        destination[1] = Version;
        destination[2] = (byte)Type;
        destination[3] = Flags;
        BinaryPrimitives.WriteUInt64BigEndian(destination[4..], (ulong)(Sender >> 64));
        BinaryPrimitives.WriteUInt64BigEndian(destination[12..], (ulong)Sender);
        BinaryPrimitives.WriteUInt64BigEndian(destination[20..], Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(destination[28..], (uint)PayloadLength);
    }
}
