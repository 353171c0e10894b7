// The hand-written Hello codec against the generated protobuf code, and the replay window and digest.
using Google.Protobuf;
using Kraken.Net.Sync;
using Kraken.Net.Sync.Proto;

namespace Kraken.Net.Tests.Sync;

public sealed class HelloCodecTests
{
    [Theory]
    [InlineData(0UL, 0U, false)]
    [InlineData(1UL, 1U, true)]
    [InlineData(ulong.MaxValue, uint.MaxValue, false)]
    [InlineData(0x8000000000000000UL, 127U, true)]
    [InlineData(0x0102030405060708UL, 128U, false)]
    [InlineData(42UL, 300_000U, true)]
    public void Writes_what_protobuf_writes_and_reads_it_back(ulong digest, uint count, bool pending)
    {
        var reference = new Hello { Digest = digest, Count = count, Pending = pending }.ToByteArray();
        Span<byte> buffer = stackalloc byte[HelloCodec.MaxSize];
        var n = HelloCodec.Write(buffer, new HelloPayload(digest, count, pending));
        Assert.Equal(reference, buffer[..n].ToArray());
        Assert.Equal(new HelloPayload(digest, count, pending), HelloCodec.Read(reference));
    }

    [Fact]
    public void Unknown_fields_are_skipped()
    {
        var withExtra = new Hello { Digest = 9, Count = 3 }.ToByteArray()
            .Concat(new byte[] { (7 << 3) | 2, 2, 0xAA, 0xBB, (8 << 3) | 0, 0x96, 0x01, (9 << 3) | 5, 1, 2, 3, 4 }).ToArray();
        Assert.Equal(new HelloPayload(9, 3, false), HelloCodec.Read(withExtra));
    }

    [Theory]
    [InlineData(new byte[] { 0x09, 1, 2, 3 })]              // truncated fixed64
    [InlineData(new byte[] { 0x10, 0x80 })]                 // truncated varint
    [InlineData(new byte[] { 0x3A, 5, 1 })]                 // length past the end
    [InlineData(new byte[] { 0x0B })]                       // wire type 3 (groups) unsupported
    [InlineData(new byte[] { 0x00, 0x00 })]                 // field 0
    public void Malformed_hellos_throw_a_protocol_error(byte[] payload)
    {
        var ex = Assert.Throws<SyncProtocolException>(() => HelloCodec.Read(payload));
        Assert.Equal(DropReason.Malformed, ex.Reason);
    }

    [Fact]
    public void The_replay_window_accepts_each_sequence_once_and_nothing_too_old()
    {
        var w = new ReplayWindow();
        Assert.False(w.Accept(0));
        Assert.True(w.Accept(5));
        Assert.False(w.Accept(5));
        Assert.True(w.Accept(3));
        Assert.True(w.Accept(4));
        Assert.False(w.Accept(3));
        Assert.True(w.Accept(5000));
        Assert.False(w.Accept(5000 - ReplayWindow.Size));
        Assert.True(w.Accept(5000 - ReplayWindow.Size + 1));
        Assert.False(w.IsFresh(5000 - ReplayWindow.Size + 1));
        Assert.True(w.IsFresh(4999));

        // Sliding far ahead forgets old slots without confusing them with new ones.
        Assert.True(w.Accept(5000 + (3 * ReplayWindow.Size)));
        Assert.True(w.IsFresh(5000 + (3 * ReplayWindow.Size) - 1));
        Assert.False(w.IsFresh(5000));
    }

    [Fact]
    public void The_digest_does_not_depend_on_order_and_tracks_changes()
    {
        var pairs = Enumerable.Range(1, 50).Select(i => (Node: new UInt128((ulong)i, (ulong)(i * 7)), Version: (ulong)i)).ToList();
        VersionDigest a = default, b = default;
        foreach (var (n, v) in pairs)
        {
            a.Add(n, v);
        }

        foreach (var (n, v) in Enumerable.Reverse(pairs))
        {
            b.Add(n, v);
        }

        Assert.Equal(a, b);
        Assert.Equal(50U, a.Count);

        b.Remove(pairs[10].Node, pairs[10].Version);
        b.Add(pairs[10].Node, pairs[10].Version + 1);
        Assert.NotEqual(a, b);
        b.Remove(pairs[10].Node, pairs[10].Version + 1);
        b.Add(pairs[10].Node, pairs[10].Version);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Keys_are_derived_not_sent_and_bound_to_nonces_and_ids()
    {
        var secret = new byte[32];
        var cn = SyncKeys.NewNonce();
        var pn = SyncKeys.NewNonce();
        var k1 = SyncKeys.DeriveAdjacencyKey(secret, cn, pn, 1, 2);
        Assert.Equal(k1, SyncKeys.DeriveAdjacencyKey(secret, cn, pn, 1, 2));
        Assert.NotEqual(k1, SyncKeys.DeriveAdjacencyKey(secret, pn, cn, 1, 2));
        Assert.NotEqual(k1, SyncKeys.DeriveAdjacencyKey(secret, cn, pn, 3, 2));
        Assert.NotEqual(SyncKeys.ComputeProof(secret, pn, cn, 1, 2), SyncKeys.ComputeProof(secret, pn, cn, 1, 3));
        Assert.Throws<ArgumentException>(() => SyncKeys.DeriveJoinKey(new byte[15]));
    }
}
