// The Hello payload written and read by hand: the steady-state hot path allocates nothing.
using System.Buffers.Binary;

namespace Kraken.Net.Sync;

/// <summary>A decoded Hello payload (see sync.proto, message Hello).</summary>
public readonly record struct HelloPayload(ulong Digest, uint Count, bool Pending);

/// <summary>
/// Protobuf wire form of <c>kraken.sync.Hello</c>, produced and parsed without the generated classes so that
/// no hello allocates. The output is byte-for-byte what Google.Protobuf writes for the same message.
/// </summary>
public static class HelloCodec
{
    /// <summary>Largest encoded size: tag+fixed64, tag+varint32, tag+bool.</summary>
    public const int MaxSize = 1 + 8 + 1 + 5 + 1 + 1;

    private const byte DigestTag = (1 << 3) | 1;   // field 1, wire type 1 (64-bit)
    private const byte CountTag = (2 << 3) | 0;    // field 2, wire type 0 (varint)
    private const byte PendingTag = (3 << 3) | 0;  // field 3, wire type 0 (varint)

    public static int Write(Span<byte> destination, in HelloPayload hello)
    {
        var n = 0;
        if (hello.Digest != 0)
        {
            destination[n++] = DigestTag;
            BinaryPrimitives.WriteUInt64LittleEndian(destination[n..], hello.Digest);
            n += 8;
        }

        if (hello.Count != 0)
        {
            destination[n++] = CountTag;
            n += WriteVarint(destination[n..], hello.Count);
        }

        if (hello.Pending)
        {
            destination[n++] = PendingTag;
            destination[n++] = 1;
        }

        return n;
    }

    /// <summary>Parses a Hello; unknown fields are skipped as protobuf requires. Throws <see cref="SyncProtocolException"/> when malformed.</summary>
    public static HelloPayload Read(ReadOnlySpan<byte> payload)
    {
        ulong digest = 0;
        uint count = 0;
        var pending = false;
        var i = 0;
        while (i < payload.Length)
        {
            var tag = ReadVarint(payload, ref i);
            var field = tag >> 3;
            var wire = (int)(tag & 7);
            switch (field, wire)
            {
                case (1, 1):
                    Need(payload, i, 8);
                    digest = BinaryPrimitives.ReadUInt64LittleEndian(payload[i..]);
                    i += 8;
                    break;
                case (2, 0):
                    count = (uint)ReadVarint(payload, ref i);
                    break;
                case (3, 0):
                    pending = ReadVarint(payload, ref i) != 0;
                    break;
                default:
                    Skip(payload, ref i, wire, field);
                    break;
            }
        }

        return new HelloPayload(digest, count, pending);
    }

    private static void Skip(ReadOnlySpan<byte> payload, ref int i, int wire, ulong field)
    {
        if (field == 0)
        {
            SyncProtocolException.Throw(DropReason.Malformed, "Hello: field number 0.");
        }

        switch (wire)
        {
            case 0:
                ReadVarint(payload, ref i);
                break;
            case 1:
                Need(payload, i, 8);
                i += 8;
                break;
            case 2:
                var len = ReadVarint(payload, ref i);
                if (len > (ulong)(payload.Length - i))
                {
                    SyncProtocolException.Throw(DropReason.Malformed, "Hello: length-delimited field runs past the payload.");
                }

                i += (int)len;
                break;
            case 5:
                Need(payload, i, 4);
                i += 4;
                break;
            default:
                SyncProtocolException.Throw(DropReason.Malformed, $"Hello: unsupported wire type {wire}.");
                break;
        }
    }

    private static void Need(ReadOnlySpan<byte> payload, int i, int n)
    {
        if (payload.Length - i < n)
        {
            SyncProtocolException.Throw(DropReason.Malformed, "Hello: truncated field.");
        }
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> payload, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (i >= payload.Length)
            {
                SyncProtocolException.Throw(DropReason.Malformed, "Hello: truncated varint.");
            }

            var b = payload[i++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        SyncProtocolException.Throw(DropReason.Malformed, "Hello: varint longer than 10 bytes.");
        return 0;
    }

    private static int WriteVarint(Span<byte> destination, uint value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            destination[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[n++] = (byte)value;
        return n;
    }
}
