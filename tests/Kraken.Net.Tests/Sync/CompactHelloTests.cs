// Compact hello codec: layout, round trips, every truncation, every bit flip, wrong keys, the extended-sequence
// reconstruction around the 32-bit wrap, replays, and the salted 32-bit digest.
using System.Buffers.Binary;
using System.Security.Cryptography;
using Kraken.Net.Sync;

namespace Kraken.Net.Tests.Sync;

public sealed class CompactHelloTests
{
    private const ulong Block = 1UL << 32;
    private static readonly byte[] s_key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];
    private static readonly UInt128 s_sender = new(0x0123456789ABCDEF, 0xFEDCBA9876543210);

    private static byte[] Make(uint adjacencyId, ulong sequence, uint digest, bool pending, byte[]? key = null)
    {
        using var mac = new FrameMac(key ?? s_key);
        var frame = new byte[CompactHello.Size];
        Assert.Equal(CompactHello.Size, CompactHello.Write(frame, adjacencyId, sequence, digest, pending, s_sender, mac));
        return frame;
    }

    private static ReplayWindow WindowAt(ulong highest)
    {
        var window = new ReplayWindow();
        Assert.True(window.Accept(highest));
        return window;
    }

    [Fact]
    public void The_layout_is_the_documented_one()
    {
        var frame = Make(0x0A0B0C0D, 0x0000_0002_1122_3344, 0xCAFEF00D, pending: true);
        Assert.Equal(25, frame.Length);
        Assert.Equal(0x69, frame[0]);
        Assert.Equal(0x0A0B0C0Du, BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(1)));
        Assert.Equal(0x11223344u, BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(5)));
        Assert.Equal(0xCAFEF00Du, BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(9)));

        // The MAC: HMAC-SHA256-96 over marker | adjacency id | all 64 bits of the sequence | digest | sender id.
        var input = Convert.FromHexString("690A0B0C0D0000000211223344CAFEF00D" + "0123456789ABCDEFFEDCBA9876543210");
        Assert.Equal(HMACSHA256.HashData(s_key, input).AsSpan(0, 12).ToArray(), frame.AsSpan(13).ToArray());
        Assert.Equal(0x68, Make(1, 1, 0, pending: false)[0]);
    }

    [Theory]
    [InlineData(1u, 1UL, 0u, false)]
    [InlineData(0xFFFFFFFFu, 0xFFFFFFFFUL, 0xFFFFFFFFu, true)]
    [InlineData(7u, Block, 0x12345678u, false)]
    [InlineData(0x80000000u, (5 * Block) + 12345, 1u, true)]
    public void A_compact_hello_round_trips_and_authenticates_all_64_sequence_bits(uint id, ulong sequence, uint digest, bool pending)
    {
        var frame = Make(id, sequence, digest, pending);
        Assert.True(CompactHello.IsCompact(frame[0]));
        Assert.Equal(new CompactHelloFields(id, (uint)sequence, digest, pending), CompactHello.Read(frame));

        using var mac = new FrameMac(s_key);
        Assert.True(CompactHello.Verify(frame, sequence, s_sender, mac));

        // Same low bits, another block: the high half is not on the wire but is under the MAC.
        Assert.False(CompactHello.Verify(frame, sequence + Block, s_sender, mac));
        if (sequence >= Block)
        {
            Assert.False(CompactHello.Verify(frame, sequence - Block, s_sender, mac));
        }

        // Wrong low bits, or a wrong key.
        Assert.False(CompactHello.Verify(frame, sequence + 1, s_sender, mac));
        using var other = new FrameMac([.. s_key.Select(b => (byte)(b ^ 1))]);
        Assert.False(CompactHello.Verify(frame, sequence, s_sender, other));

        // Another sender under the same key: the peer of the adjacency is authenticated, so a hello reflected
        // back to the node that sent it (which shares the adjacency key) does not verify there.
        Assert.False(CompactHello.Verify(frame, sequence, s_sender ^ 1, mac));
        Assert.False(CompactHello.Verify(frame, sequence, new UInt128(0xFEDCBA9876543210, 0x0123456789ABCDEF), mac));
    }

    [Fact]
    public void Every_truncation_and_extension_is_malformed()
    {
        var frame = Make(42, 1000, 0xABCDEF01, pending: false);
        using var mac = new FrameMac(s_key);
        for (var n = 0; n < frame.Length; n++)
        {
            var truncated = frame.AsSpan(0, n).ToArray();
            var ex = Assert.Throws<SyncProtocolException>(() => CompactHello.Read(truncated));
            Assert.Equal(DropReason.Malformed, ex.Reason);
            Assert.False(CompactHello.Verify(truncated, 1000, s_sender, mac));
        }

        var longer = new byte[frame.Length + 1];
        frame.CopyTo(longer, 0);
        Assert.Equal(DropReason.Malformed, Assert.Throws<SyncProtocolException>(() => CompactHello.Read(longer)).Reason);
        Assert.False(CompactHello.Verify(longer, 1000, s_sender, mac));
    }

    [Fact]
    public void Every_bit_flip_anywhere_is_rejected()
    {
        const ulong sequence = (3 * Block) + 17;
        var frame = Make(0x01020304, sequence, 0x55AA55AA, pending: false);
        var window = WindowAt(sequence - 1);
        using var mac = new FrameMac(s_key);
        Assert.True(CompactHello.Verify(frame, window.Reconstruct(CompactHello.Read(frame).SequenceLow), s_sender, mac));

        for (var bit = 0; bit < frame.Length * 8; bit++)
        {
            var copy = (byte[])frame.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            if (!CompactHello.IsCompact(copy[0]))
            {
                Assert.Equal(DropReason.Malformed, Assert.Throws<SyncProtocolException>(() => CompactHello.Read(copy)).Reason);
                continue;
            }

            // As the receiver does it: read, reconstruct the sequence from the window, verify.
            var fields = CompactHello.Read(copy);
            Assert.False(CompactHello.Verify(copy, window.Reconstruct(fields.SequenceLow), s_sender, mac), $"flipping bit {bit} went unnoticed");
        }
    }

    [Fact]
    public void Only_the_compact_markers_are_compact()
    {
        for (var b = 0; b < 256; b++)
        {
            Assert.Equal(b is 0x68 or 0x69, CompactHello.IsCompact((byte)b));
        }

        Assert.False(CompactHello.IsCompact(FrameHeader.Magic));
    }

    [Theory]
    [InlineData(0UL, 1u, 1UL)]                                          // nothing accepted yet
    [InlineData(0UL, 0xFFFFFFFFu, 0UL)]                                 // behind the very first block: invalid
    [InlineData(5000UL, 5001u, 5001UL)]                                 // case A, ahead
    [InlineData(5000UL, 3977u, 3977UL)]                                 // case A, oldest slot of the window
    [InlineData(5000UL, 3976u, Block + 3976)]                           // case A, below the window: next block
    [InlineData(1023UL, 0u, 0UL)]                                       // case A at its edge: the window reaches 0
    [InlineData(1024UL, 0u, Block)]                                     // one further on, 0 is in the next block
    [InlineData(Block - 3, 2u, Block + 2)]                              // just over the wrap
    [InlineData(Block - 3, 0xFFFFFFF0u, Block - 16)]                    // just before it
    [InlineData(Block + 5, 0xFFFFFFFDu, Block - 3)]                     // case B: previous block
    [InlineData(Block + 5, 9u, Block + 9)]                              // case B: this block
    [InlineData(Block + 5, 0xFFFFFC06u, Block - 1018)]                  // case B: oldest slot of the window
    [InlineData(Block + 5, 0xFFFFFC05u, Block + 0xFFFFFC05)]            // case B: below the window: this block
    [InlineData((7 * Block) + 100, 50u, (7 * Block) + 50)]
    public void The_sequence_is_reconstructed_as_IPsec_extended_sequence_numbers(ulong highest, uint low, ulong expected)
    {
        var window = highest == 0 ? new ReplayWindow() : WindowAt(highest);
        Assert.Equal(expected, window.Reconstruct(low));
    }

    [Fact]
    public void Hellos_across_the_32_bit_wrap_are_accepted_once_even_reordered_and_replays_are_refused()
    {
        using var mac = new FrameMac(s_key);
        var frames = Enumerable.Range(0, 40).Select(i => (Sequence: Block - 20 + (ulong)i, Bytes: Make(9, Block - 20 + (ulong)i, (uint)i, false))).ToList();

        // The receiver's window was last moved by a full frame (64-bit sequence) just before them.
        var window = WindowAt(Block - 21);
        var order = frames.OrderBy(f => f.Sequence % 7).ThenBy(f => f.Sequence).ToList();
        foreach (var (sequence, bytes) in order)
        {
            var reconstructed = window.Reconstruct(CompactHello.Read(bytes).SequenceLow);
            Assert.Equal(sequence, reconstructed);
            Assert.True(CompactHello.Verify(bytes, reconstructed, s_sender, mac));
            Assert.True(window.Accept(reconstructed));
        }

        Assert.Equal(Block + 19, window.Highest);

        // Every one of them again: it reconstructs to the same sequence, verifies, and the window refuses it.
        foreach (var (sequence, bytes) in frames)
        {
            var reconstructed = window.Reconstruct(CompactHello.Read(bytes).SequenceLow);
            Assert.Equal(sequence, reconstructed);
            Assert.True(CompactHello.Verify(bytes, reconstructed, s_sender, mac));
            Assert.False(window.Accept(reconstructed));
        }

        // Far behind (after 2000 more frames), an old hello reconstructs into the next block and fails its MAC
        // there; it verifies one block back, which is how the engine counts it as a replay, not a forgery.
        Assert.True(window.Accept(Block + 2019));
        var (oldSequence, old) = frames[^1];
        var guess = window.Reconstruct(CompactHello.Read(old).SequenceLow);
        Assert.Equal(oldSequence + Block, guess);
        Assert.False(CompactHello.Verify(old, guess, s_sender, mac));
        Assert.True(CompactHello.Verify(old, guess - Block, s_sender, mac));
        Assert.False(window.IsFresh(guess - Block));
    }

    [Fact]
    public void The_worked_example_of_the_protocol_document_is_what_the_code_writes()
    {
        // docs/protocol.md section 13, frame 7: the child's first compact hello to its parent.
        var secret = "example-cluster-join-secret-0001"u8.ToArray();
        var parent = new UInt128(0x123e4567e89b12d3, 0xa456426655440000);
        var child = new UInt128(0x0b0e5f4c54a24c1e, 0x9a553f1f6d2c7a10);
        var key = SyncKeys.DeriveAdjacencyKey(secret, Convert.FromHexString("00112233445566778899aabbccddeeff"), Convert.FromHexString("f0e1d2c3b4a5968778695a4b3c2d1e0f"), child, parent);
        Assert.Equal("3503420851368861987816df38ac90659a358e8d8c2a01479d53607e2645c906", Convert.ToHexStringLower(key));

        VersionDigest digest = default;
        digest.Add(child, 2);
        Assert.Equal(0x6d410337ed313bc1UL, digest.Value);
        Assert.Equal(0xcaa3edafu, digest.Short(2));

        using var mac = new FrameMac(key);
        var frame = new byte[CompactHello.Size];
        CompactHello.Write(frame, 0x5e13b7d2, 2, digest.Short(2), false, child, mac);
        Assert.Equal("685e13b7d200000002caa3edafe744daa835556e5c06440bed", Convert.ToHexStringLower(frame));

        var window = WindowAt(1);
        Assert.True(CompactHello.Verify(frame, window.Reconstruct(CompactHello.Read(frame).SequenceLow), child, mac));
    }

    [Fact]
    public void The_MAC_is_the_truncated_HMAC_SHA256()
    {
        using var mac = new FrameMac(s_key);
        var data = "some bytes to authenticate"u8.ToArray();
        var full = HMACSHA256.HashData(s_key, data);
        Span<byte> twelve = stackalloc byte[12];
        Span<byte> sixteen = stackalloc byte[16];
        mac.Compute(data, twelve);
        mac.Compute(data, sixteen);
        Assert.Equal(full.AsSpan(0, 12).ToArray(), twelve.ToArray());
        Assert.Equal(full.AsSpan(0, 16).ToArray(), sixteen.ToArray());
        Assert.Throws<ArgumentException>(() => mac.Compute(data, new byte[8]));
    }

    [Fact]
    public void The_short_digest_folds_value_and_count_and_is_salted_by_the_sequence()
    {
        VersionDigest a = default;
        VersionDigest b = default;
        for (var i = 0; i < 100; i++)
        {
            a.Add(new UInt128(1, (ulong)i), 7);
            b.Add(new UInt128(1, (ulong)i), 7);
        }

        // Same tables: same short digest at every sequence.
        Assert.Equal(a.Short(12345), b.Short(12345));
        Assert.Equal(a.Short(Block + 1), b.Short(Block + 1));

        // A table with one version more: the short digests differ, and at 100,000 sequences never agree
        // (each agrees with chance 2^-32, independently of the others since the salt changes).
        b.Remove(new UInt128(1, 50), 7);
        b.Add(new UInt128(1, 50), 8);
        var agreements = 0;
        for (ulong s = 1; s <= 100_000; s++)
        {
            agreements += a.Short(s) == b.Short(s) ? 1 : 0;
        }

        Assert.Equal(0, agreements);

        // The count is folded in; the salt moves every bit about (values over sequences are spread out).
        Assert.NotEqual(VersionDigest.Short(0x1234, 3, 9), VersionDigest.Short(0x1234, 4, 9));
        var values = Enumerable.Range(1, 1000).Select(s => a.Short((ulong)s)).ToHashSet();
        Assert.True(values.Count > 990);
    }
}
