// Frame codec: round trips, every truncation, every segmentation, random input and oversize frames.
using System.Buffers;
using System.Buffers.Binary;
using Kraken.Net.Sync;

namespace Kraken.Net.Tests.Sync;

public sealed class FrameCodecTests
{
    private const int MaxPayload = 64 * 1024;
    private static readonly byte[] s_key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];
    private static readonly UInt128 s_sender = new(0x0123456789ABCDEF, 0xFEDCBA9876543210);

    /// <summary>One frame of every type, with payloads of assorted sizes (empty included).</summary>
    public static TheoryData<MessageType, int> Frames()
    {
        var data = new TheoryData<MessageType, int>();
        foreach (var type in Enum.GetValues<MessageType>())
        {
            data.Add(type, type == MessageType.Hello ? 12 : ((int)type * 37) % 200);
        }

        data.Add(MessageType.Delta, 0);
        return data;
    }

    private static byte[] Make(MessageType type, int payloadLength, ulong sequence = 42)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength + (int)type).NextBytes(payload);
        using var mac = new FrameMac(s_key);
        return FrameCodec.ToArray(type, s_sender, sequence, payload, mac);
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void A_frame_round_trips(MessageType type, int payloadLength)
    {
        var frame = Make(type, payloadLength, sequence: 0xA1B2C3D4E5F60718);
        var buffer = new ReadOnlySequence<byte>(frame);

        Assert.True(FrameCodec.TryReadFrame(ref buffer, MaxPayload, out var header, out var read));
        Assert.True(buffer.IsEmpty);
        Assert.Equal(new FrameHeader(type, 0, s_sender, 0xA1B2C3D4E5F60718, payloadLength), header);
        Assert.Equal(frame, read.ToArray());
        Assert.Equal(header, FrameCodec.ReadDatagram(frame, MaxPayload));
        Assert.Equal(frame.AsSpan(FrameHeader.Size, payloadLength).ToArray(), FrameCodec.Payload(frame, header).ToArray());

        using var mac = new FrameMac(s_key);
        Assert.True(FrameCodec.Verify(frame, mac));
        using var other = new FrameMac([.. s_key.Select(b => (byte)(b ^ 1))]);
        Assert.False(FrameCodec.Verify(frame, other));
    }

    [Fact]
    public void The_header_layout_is_the_documented_one()
    {
        var frame = Make(MessageType.Ack, 3, sequence: 7);
        Assert.Equal(0x4B, frame[0]);
        Assert.Equal(0x01, frame[1]);
        Assert.Equal(0x03, frame[2]);
        Assert.Equal(0x00, frame[3]);
        Assert.Equal(0x0123456789ABCDEFUL, BinaryPrimitives.ReadUInt64BigEndian(frame.AsSpan(4)));
        Assert.Equal(0xFEDCBA9876543210UL, BinaryPrimitives.ReadUInt64BigEndian(frame.AsSpan(12)));
        Assert.Equal(7UL, BinaryPrimitives.ReadUInt64BigEndian(frame.AsSpan(20)));
        Assert.Equal(3U, BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(28)));
        Assert.Equal(32 + 3 + 16, frame.Length);
    }

    [Fact]
    public void Every_bit_of_header_and_payload_is_covered_by_the_MAC()
    {
        var frame = Make(MessageType.Delta, 20);
        using var mac = new FrameMac(s_key);
        for (var i = 0; i < frame.Length; i++)
        {
            var copy = (byte[])frame.Clone();
            copy[i] ^= 0x80;
            Assert.False(FrameCodec.Verify(copy, mac), $"flipping byte {i} went unnoticed");
        }
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Every_truncation_needs_more_and_consumes_nothing(MessageType type, int payloadLength)
    {
        var frame = Make(type, payloadLength);
        for (var n = 0; n < frame.Length; n++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, n);
            Assert.False(FrameCodec.TryReadFrame(ref buffer, MaxPayload, out _, out _), $"prefix of {n} bytes");
            Assert.Equal(n, buffer.Length);
            var ex = Assert.Throws<SyncProtocolException>(() => FrameCodec.ReadDatagram(frame.AsSpan(0, n), MaxPayload));
            Assert.Equal(DropReason.Malformed, ex.Reason);
        }
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Every_segmentation_reads_the_same_frames(MessageType type, int payloadLength)
    {
        // Two frames back to back, so a split can also fall between or across them.
        var first = Make(type, payloadLength, 1);
        var second = Make(MessageType.Hello, 12, 2);
        var stream = first.Concat(second).ToArray();

        for (var split = 0; split <= stream.Length; split++)
        {
            AssertReadsBoth(Segments(stream, split), first, second, $"split at {split}");
        }

        AssertReadsBoth(Segments(stream, Enumerable.Range(1, stream.Length - 1).ToArray()), first, second, "one byte per segment");
    }

    private static void AssertReadsBoth(ReadOnlySequence<byte> buffer, byte[] first, byte[] second, string because)
    {
        Assert.True(FrameCodec.TryReadFrame(ref buffer, MaxPayload, out _, out var a), because);
        Assert.True(FrameCodec.TryReadFrame(ref buffer, MaxPayload, out _, out var b), because);
        Assert.False(FrameCodec.TryReadFrame(ref buffer, MaxPayload, out _, out _), because);
        Assert.Equal(first, a.ToArray());
        Assert.Equal(second, b.ToArray());
    }

    [Fact]
    public void An_oversize_length_is_rejected_before_any_allocation()
    {
        var header = new byte[FrameHeader.Size];
        new FrameHeader(MessageType.Delta, 0, s_sender, 1, int.MaxValue).Write(header);
        var buffer = new ReadOnlySequence<byte>(header);

        // Warm up the exception path so only the attempt itself is measured.
        Assert.Throws<SyncProtocolException>(() => { var b = buffer; FrameCodec.TryReadFrame(ref b, MaxPayload, out _, out _); });
        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<SyncProtocolException>(() => { var b = buffer; FrameCodec.TryReadFrame(ref b, MaxPayload, out _, out _); });
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(DropReason.Oversize, ex.Reason);
        Assert.Contains(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 16 * 1024, $"{allocated} bytes allocated for a frame claiming 2 GiB");

        // One byte over the maximum is already too much.
        new FrameHeader(MessageType.Delta, 0, s_sender, 1, MaxPayload + 1).Write(header);
        Assert.Equal(DropReason.Oversize, Assert.Throws<SyncProtocolException>(() => FrameCodec.ReadDatagram(header, MaxPayload)).Reason);
    }

    [Fact]
    public void Bad_magic_version_and_type_are_malformed()
    {
        foreach (var (offset, value) in new[] { (0, (byte)0x4C), (1, (byte)0x02), (2, (byte)0x00), (2, (byte)0x0A), (2, (byte)0xFF) })
        {
            var frame = Make(MessageType.Hello, 12);
            frame[offset] = value;
            var buffer = new ReadOnlySequence<byte>(frame);
            var ex = Assert.Throws<SyncProtocolException>(() => FrameCodec.TryReadFrame(ref buffer, MaxPayload, out _, out _));
            Assert.Equal(DropReason.Malformed, ex.Reason);
        }
    }

    [Fact]
    public void Random_bytes_never_escape_as_anything_but_a_protocol_error()
    {
        var random = new Random(12345);
        var frames = 0;
        var errors = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 120)];
            random.NextBytes(bytes);
            if (i % 3 == 0 && bytes.Length > 2)
            {
                // Often a plausible start, so the reader gets past the magic.
                bytes[0] = FrameHeader.Magic;
                bytes[1] = FrameHeader.Version;
            }

            var buffer = new ReadOnlySequence<byte>(bytes);
            try
            {
                while (FrameCodec.TryReadFrame(ref buffer, 64, out _, out _))
                {
                    frames++;
                }
            }
            catch (SyncProtocolException)
            {
                // The receive loop's edge: drop and go on.
                errors++;
            }

            try
            {
                FrameCodec.ReadDatagram(bytes, 64);
                frames++;
            }
            catch (SyncProtocolException)
            {
                errors++;
            }

            try
            {
                HelloCodec.Read(bytes);
            }
            catch (SyncProtocolException)
            {
                errors++;
            }
        }

        // Any other exception type would have failed the test; most inputs are errors, a few parse.
        Assert.True(errors > 20_000, $"{errors} protocol errors, {frames} frames");
    }

    private static ReadOnlySequence<byte> Segments(byte[] data, params int[] cuts)
    {
        var points = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().ToList();
        points.Insert(0, 0);
        points.Add(data.Length);
        Segment? first = null, last = null;
        for (var i = 0; i < points.Count - 1; i++)
        {
            var memory = data.AsMemory(points[i], points[i + 1] - points[i]);
            if (first is null)
            {
                first = last = new Segment(memory, 0);
            }
            else
            {
                last = last!.Append(memory);
            }
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
