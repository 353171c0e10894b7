// Security of the sync protocol: admission, authentication and replay protection, on the in-memory network.
using System.Buffers.Binary;
using System.Text;
using Kraken.Net.Sync;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class SecurityTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    /// <summary>Root and tier-1 node t0 joined; leaves not started.</summary>
    private static SyncCluster RootAndT0(out NodeId t0, out NodeId[] leaves)
    {
        var c = new SyncCluster();
        var cfg = SyncCluster.ThreeTierCfg(out var root, out var tier1, out leaves);
        var store = new StateStore();
        foreach (var r in cfg)
        {
            store.Create(r);
        }

        c.Add(root, store, []);
        t0 = tier1[0];
        c.Add(t0, new StateStore(), [SyncCluster.EndPointOf(root)]);
        var id = t0;
        c.RunUntil(() => c[id].ParentAdjacency?.State == AdjacencyState.Full, TimeSpan.FromSeconds(10), "t0 joined");
        return c;
    }

    [Fact]
    public async Task A_wrong_join_secret_is_refused_and_changes_nothing()
    {
        await using var c = RootAndT0(out var t0, out var leaves);
        var parent = c[t0];
        var before = parent.Store.GetRequired(StateView.Dsc, leaves[0]);
        var sequence = parent.Store.Sequence;

        var intruder = c.Add(leaves[0], new StateStore(), [SyncCluster.EndPointOf(t0)], secret: Encoding.ASCII.GetBytes("not-the-cluster-secret-at-all-000"));
        c.Run(TimeSpan.FromSeconds(20));

        Assert.DoesNotContain(intruder.Engine.Adjacencies, a => a.State is AdjacencyState.Exchange or AdjacencyState.Full);
        Assert.DoesNotContain(parent.Engine.Adjacencies, a => a.Peer == leaves[0]);
        Assert.True(parent.Engine.Counters.Drops(DropReason.BadMac) > 0);
        Assert.True(parent.Engine.Counters.JoinRefusals > 0);
        Assert.Equal(sequence, parent.Store.Sequence);
        Assert.Same(before, parent.Store.GetRequired(StateView.Dsc, leaves[0]));
        Assert.Null(intruder.Store.Get(StateView.Cfg, leaves[1]));
    }

    [Fact]
    public async Task A_node_that_is_not_a_child_is_refused()
    {
        await using var c = RootAndT0(out var t0, out var leaves);
        var parent = c[t0];
        var sequence = parent.Store.Sequence;

        // A node unknown to the cluster, and a known node whose Cfg names other parents (l5: t1, backup t2).
        var stranger = c.Add(NodeId.FromName("stranger"), new StateStore(), [SyncCluster.EndPointOf(t0)]);
        var elsewhere = c.Add(leaves[5], new StateStore(), [SyncCluster.EndPointOf(t0)]);
        c.Run(TimeSpan.FromSeconds(20));

        foreach (var m in new[] { stranger, elsewhere })
        {
            Assert.DoesNotContain(m.Engine.Adjacencies, a => a.State is AdjacencyState.Exchange or AdjacencyState.Full);
            Assert.DoesNotContain(parent.Engine.Adjacencies, a => a.Peer == m.Id);
        }

        Assert.True(parent.Engine.Counters.Drops(DropReason.UnknownSender) >= 2);
        Assert.True(parent.Engine.Counters.JoinRefusals >= 2);
        Assert.False(parent.Store.Contains(stranger.Id));
        Assert.Equal(sequence, parent.Store.Sequence);
    }

    [Fact]
    public async Task Tampered_replayed_and_garbage_frames_are_dropped_counted_and_change_nothing()
    {
        await using var c = RootAndT0(out var t0, out var leaves);
        var leaf = c.Add(leaves[0], new StateStore(), [SyncCluster.EndPointOf(t0)]);
        c.RunUntil(() => leaf.ParentAdjacency?.State == AdjacencyState.Full, TimeSpan.FromSeconds(10), "leaf joined");
        c.Run(TimeSpan.FromSeconds(6));

        // Capture real frames from the leaf to its parent: a compact hello and a delta carrying PowerCycle.
        var captured = new List<byte[]>();
        var leafAddress = SyncCluster.EndPointOf(leaf.Id).Address;
        c.Network.Tap = (from, to, datagram) =>
        {
            if (from.Address == leafAddress)
            {
                captured.Add(datagram.ToArray());
            }
        };
        leaf.Store.Set(StateView.Dsc, leaf.Id, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerCycle));
        c.Run(TimeSpan.FromSeconds(6));
        leaf.Store.Set(StateView.Dsc, leaf.Id, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerOff));
        c.Run(TimeSpan.FromSeconds(1));
        c.Network.Tap = null;
        var parent = c[t0];
        Assert.Equal(SyncCluster.Enum(PhysState.PowerOff), parent.Dsc(leaf.Id, s_schema.PhysState));

        var delta = captured.First(f => f[0] == FrameHeader.Magic && f[2] == (byte)MessageType.Delta);
        var hello = captured.First(f => CompactHello.IsCompact(f[0]));
        Assert.Equal(CompactHello.Size, hello.Length);
        var attacker = c.Network.CreateTransport(new InMemoryEndPoint(12345));
        var target = SyncCluster.EndPointOf(t0);
        var counters = parent.Engine.Counters;
        var sequence = parent.Store.Sequence;
        var adjacencies = parent.Engine.Adjacencies.ToArray();

        // Replay: the old delta (PowerCycle) and the old compact hello again, verbatim.
        attacker.SendDatagram(target, delta);
        attacker.SendDatagram(target, hello);
        c.Run(TimeSpan.FromMilliseconds(50));
        Assert.Equal(2, counters.Drops(DropReason.Replay));

        // Tamper: the delta with one payload bit flipped and a fresh sequence number; the compact hello with a
        // fresh sequence (low half) and one digest bit flipped; a compact hello MAC'd under another key.
        var tampered = (byte[])delta.Clone();
        BinaryPrimitives.WriteUInt64BigEndian(tampered.AsSpan(20), ulong.MaxValue - 1);
        tampered[FrameHeader.Size] ^= 0x01;
        attacker.SendDatagram(target, tampered);
        var tamperedHello = (byte[])hello.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(tamperedHello.AsSpan(5), BinaryPrimitives.ReadUInt32BigEndian(hello.AsSpan(5)) + 100);
        tamperedHello[9] ^= 0x80;
        attacker.SendDatagram(target, tamperedHello);
        var fields = CompactHello.Read(hello);
        using (var wrongKey = new FrameMac(Encoding.ASCII.GetBytes("some-other-adjacency-key-0000001")))
        {
            var forged = new byte[CompactHello.Size];
            CompactHello.Write(forged, fields.AdjacencyId, fields.SequenceLow + 200UL, fields.Digest, false, new UInt128(leaf.Id.High, leaf.Id.Low), wrongKey);
            attacker.SendDatagram(target, forged);
        }

        c.Run(TimeSpan.FromMilliseconds(50));
        Assert.Equal(3, counters.Drops(DropReason.BadMac));

        // Valid-looking frames for no adjacency (another sender id; another adjacency id), garbage, a truncated
        // compact hello, and a header that claims 2 GiB.
        var unknown = (byte[])delta.Clone();
        unknown[10] ^= 0xFF;
        attacker.SendDatagram(target, unknown);
        var unknownHello = (byte[])hello.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(unknownHello.AsSpan(1), ~fields.AdjacencyId);
        attacker.SendDatagram(target, unknownHello);
        var malformed0 = counters.Drops(DropReason.Malformed);
        attacker.SendDatagram(target, hello.AsSpan(0, CompactHello.Size - 1));
        c.Run(TimeSpan.FromMilliseconds(50));
        Assert.Equal(malformed0 + 1, counters.Drops(DropReason.Malformed));

        var random = new Random(3);
        for (var i = 0; i < 200; i++)
        {
            var garbage = new byte[random.Next(0, 300)];
            random.NextBytes(garbage);
            attacker.SendDatagram(target, garbage);
        }

        var huge = (byte[])delta.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(28), int.MaxValue);
        attacker.SendDatagram(target, huge);
        c.Run(TimeSpan.FromMilliseconds(50));

        Assert.Equal(2, counters.Drops(DropReason.UnknownSender));
        Assert.True(counters.Drops(DropReason.Malformed) >= 190, $"{counters.Drops(DropReason.Malformed)} malformed");
        Assert.Equal(1, counters.Drops(DropReason.Oversize));
        Assert.Equal(2, counters.Drops(DropReason.Replay));
        Assert.Equal(3, counters.Drops(DropReason.BadMac));

        // Nothing changed: same state, same adjacencies, the old value did not come back, the window did not move.
        Assert.Equal(sequence, parent.Store.Sequence);
        Assert.Equal(adjacencies, parent.Engine.Adjacencies.ToArray());
        Assert.Equal(SyncCluster.Enum(PhysState.PowerOff), parent.Dsc(leaf.Id, s_schema.PhysState));

        // And the real adjacency still works.
        leaf.Store.Set(StateView.Dsc, leaf.Id, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerOn));
        c.RunUntil(() => parent.Dsc(leaf.Id, s_schema.PhysState) == SyncCluster.Enum(PhysState.PowerOn), TimeSpan.FromSeconds(5), "a genuine change still flows");
        Assert.Equal(AdjacencyState.Full, parent.Engine.Adjacencies.Single(a => a.Peer == leaf.Id).State);
    }
}
