// Reads frames from streams and datagrams, and writes authenticated frames.
using System.Buffers;

namespace Kraken.Net.Sync;

public static class FrameCodec
{
    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/>. Returns false when more bytes are needed
    /// (the buffer is left as it was). Throws <see cref="SyncProtocolException"/> for a malformed or oversize
    /// header; the length is checked against <paramref name="maxPayload"/> before anything is allocated.
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxPayload, out FrameHeader header, out ReadOnlySequence<byte> frame)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (reader.Remaining < FrameHeader.Size)
        {
            header = default;
            frame = default;
            return false;
        }

        // Fast path: the header lies in one segment. Otherwise gather it on the stack.
        Span<byte> scratch = stackalloc byte[FrameHeader.Size];
        var unread = reader.UnreadSpan;
        if (unread.Length >= FrameHeader.Size)
        {
            header = FrameHeader.Read(unread[..FrameHeader.Size], maxPayload);
        }
        else
        {
            reader.TryCopyTo(scratch);
            header = FrameHeader.Read(scratch, maxPayload);
        }

        if (reader.Remaining < header.FrameLength)
        {
            frame = default;
            return false;
        }

        reader.Advance(header.FrameLength);
        frame = buffer.Slice(buffer.Start, reader.Position);
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    /// <summary>Reads the header of a datagram, which must hold exactly one frame.</summary>
    public static FrameHeader ReadDatagram(ReadOnlySpan<byte> datagram, int maxPayload)
    {
        var header = FrameHeader.Read(datagram, maxPayload);
        if (datagram.Length != header.FrameLength)
        {
            SyncProtocolException.Throw(DropReason.Malformed, $"Datagram of {datagram.Length} bytes holds a frame of {header.FrameLength} bytes.");
        }

        return header;
    }

    /// <summary>The payload of a whole frame.</summary>
    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> frame, in FrameHeader header) => frame.Slice(FrameHeader.Size, header.PayloadLength);

    /// <summary>
    /// Writes header, payload and MAC into <paramref name="destination"/>; returns the frame length.
    /// The payload must already be at <c>destination[FrameHeader.Size..]</c> when <paramref name="payload"/> is empty
    /// and <paramref name="payloadLength"/> is given (encoders write in place to avoid a copy).
    /// </summary>
    public static int Write(Span<byte> destination, MessageType type, byte flags, UInt128 sender, ulong sequence, ReadOnlySpan<byte> payload, FrameMac mac, int payloadLength = -1)
    {
        ArgumentNullException.ThrowIfNull(mac);
        var length = payloadLength < 0 ? payload.Length : payloadLength;
        new FrameHeader(type, flags, sender, sequence, length).Write(destination);
        if (payloadLength < 0)
        {
            payload.CopyTo(destination[FrameHeader.Size..]);
        }

        var body = FrameHeader.Size + length;
        mac.Compute(destination[..body], destination.Slice(body, FrameHeader.MacSize));
        return body + FrameHeader.MacSize;
    }

    /// <summary>Writes a frame into a new array (join and bulk messages; the hello path writes into a pooled buffer).</summary>
    public static byte[] ToArray(MessageType type, UInt128 sender, ulong sequence, ReadOnlySpan<byte> payload, FrameMac mac, byte flags = 0)
    {
        var bytes = new byte[FrameHeader.Overhead + payload.Length];
        Write(bytes, type, flags, sender, sequence, payload, mac);
        return bytes;
    }

    /// <summary>True when the frame's MAC verifies under <paramref name="mac"/> (constant-time compare).</summary>
    public static bool Verify(ReadOnlySpan<byte> frame, FrameMac mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        if (frame.Length < FrameHeader.Overhead)
        {
            return false;
        }

        var body = frame.Length - FrameHeader.MacSize;
        Span<byte> expected = stackalloc byte[FrameHeader.MacSize];
        mac.Compute(frame[..body], expected);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(expected, frame[body..]);
    }
}
