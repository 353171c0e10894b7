// The steady-state hello on the in-memory network: compact frames both ways, the 32-bit sequence wrap, the
// full-frame fallback, and the symmetric jitter of hello ticks.
using Kraken.Net.Execution;
using Kraken.Net.Sync;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class CompactHelloTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    /// <summary>Records every datagram between two nodes, in both directions, with the time it was sent.</summary>
    private static List<(bool Up, TimeSpan At, byte[] Bytes)> Capture(SyncCluster c, NodeId child, NodeId parent)
    {
        var captured = new List<(bool, TimeSpan, byte[])>();
        var childAddress = SyncCluster.EndPointOf(child).Address;
        var parentAddress = SyncCluster.EndPointOf(parent).Address;
        c.Network.Tap = (from, to, datagram) =>
        {
            if (from.Address == childAddress && to.Address == parentAddress)
            {
                captured.Add((true, c.Time.Elapsed, datagram.ToArray()));
            }
            else if (from.Address == parentAddress && to.Address == childAddress)
            {
                captured.Add((false, c.Time.Elapsed, datagram.ToArray()));
            }
        };
        return captured;
    }

    [Fact]
    public async Task Steady_state_hellos_are_25_byte_compact_frames_both_ways()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(12));
        var leaf = c[c.Leaves[0]];
        var parent = c[c.Tier1[0]];
        var captured = Capture(c, leaf.Id, parent.Id);
        var sent = leaf.Engine.Counters.Sent(MessageType.Hello);
        var sentBytes = leaf.Engine.Counters.SentBytes(MessageType.Hello);
        var received = parent.Engine.Counters.Received(MessageType.Hello);
        var drops = c.All.Sum(m => m.Engine.Counters.TotalDrops);

        c.Run(TimeSpan.FromSeconds(60));
        c.Network.Tap = null;

        // Nothing but hellos in steady state, every one compact, in both directions.
        Assert.NotEmpty(captured);
        Assert.All(captured, f => Assert.True(f.Bytes.Length == CompactHello.Size && CompactHello.IsCompact(f.Bytes[0]), $"{f.Bytes.Length} bytes, first 0x{f.Bytes[0]:x2}"));
        Assert.InRange(captured.Count(f => f.Up), 11, 13);
        Assert.InRange(captured.Count(f => !f.Up), 11, 13);
        Assert.All(captured, f => Assert.False((f.Bytes[0] & CompactHello.PendingFlag) != 0, "nothing is pending in steady state"));

        // Counted as hellos of 25 bytes, all accepted, the digests agree (no repair), the adjacency stays Full.
        var n = leaf.Engine.Counters.Sent(MessageType.Hello) - sent;
        Assert.Equal(captured.Count(f => f.Up), n);
        Assert.Equal(n * CompactHello.Size, leaf.Engine.Counters.SentBytes(MessageType.Hello) - sentBytes);

        // The parent hears from its four neighbours (three leaves, the root) alike.
        Assert.InRange(parent.Engine.Counters.Received(MessageType.Hello) - received, 4 * 11, 4 * 13);
        Assert.Equal(drops, c.All.Sum(m => m.Engine.Counters.TotalDrops));
        Assert.Equal(0, c.All.Sum(m => m.Engine.Counters.Sent(MessageType.RepairRequest)));
        Assert.Equal(AdjacencyState.Full, leaf.ParentAdjacency!.State);

        // Each side names the adjacency by the id the other gave it at join: the two directions differ.
        var up = CompactHello.Read(captured.First(f => f.Up).Bytes).AdjacencyId;
        var down = CompactHello.Read(captured.First(f => !f.Up).Bytes).AdjacencyId;
        Assert.NotEqual(0u, up);
        Assert.NotEqual(0u, down);
        Assert.All(captured, f => Assert.Equal(f.Up ? up : down, CompactHello.Read(f.Bytes).AdjacencyId));
    }

    [Fact]
    public async Task A_pending_compact_hello_defers_repair_and_a_mismatch_is_repaired()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(12));
        var leaf = c[c.Leaves[0]];
        var parent = c[c.Tier1[0]];

        // The parent loses its record of the leaf's Dsc: the next (compact) hello from the leaf disagrees, the
        // parent asks for repair and gets the record back; the digests then agree again.
        c.Executor.Post(() => parent.Engine.ForgetReceived(leaf.Id, leaf.Id));
        c.Time.RunUntilIdle();
        var requests = parent.Engine.Counters.Sent(MessageType.RepairRequest);
        c.Run(leaf.Engine.Options.HelloInterval * 1.2);
        Assert.Equal(requests + 1, parent.Engine.Counters.Sent(MessageType.RepairRequest));
        c.Run(TimeSpan.FromSeconds(30));
        Assert.Equal(requests + 1, parent.Engine.Counters.Sent(MessageType.RepairRequest));

        // While a delta waits for its acknowledgement (the parent is cut off), hellos say so and ask for nothing.
        var captured = Capture(c, leaf.Id, parent.Id);
        c.Network.Partition(SyncCluster.EndPointOf(leaf.Id), SyncCluster.EndPointOf(parent.Id));
        leaf.Store.Set(StateView.Dsc, leaf.Id, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerCycle));
        c.Run(leaf.Engine.Options.HelloInterval * 2);
        c.Network.HealAll();
        c.Network.Tap = null;
        Assert.Contains(captured, f => f.Up && CompactHello.IsCompact(f.Bytes[0]) && (f.Bytes[0] & CompactHello.PendingFlag) != 0);
        c.RunUntil(() => parent.Dsc(leaf.Id, s_schema.PhysState) == SyncCluster.Enum(PhysState.PowerCycle), TimeSpan.FromSeconds(10), "the delta arrives after the partition");
        Assert.Equal(requests + 1, parent.Engine.Counters.Sent(MessageType.RepairRequest));
    }

    [Fact]
    public async Task Compact_hellos_cross_the_32_bit_sequence_wrap_and_old_ones_are_replays()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(12));
        var leaf = c[c.Leaves[0]];
        var parent = c[c.Tier1[0]];
        const ulong wrap = 1UL << 32;

        // Both sides jump to just below 2^32; the next delta each way (full frames carry all 64 bits) moves the
        // peer's window there, then compact hellos, carrying only the low half, run across the wrap.
        c.Executor.Post(() =>
        {
            leaf.Engine.SetSendSequence(parent.Id, wrap - 4);
            parent.Engine.SetSendSequence(leaf.Id, wrap - 4);
        });
        c.Time.RunUntilIdle();
        var captured = Capture(c, leaf.Id, parent.Id);
        leaf.Store.Set(StateView.Dsc, leaf.Id, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerCycle));
        parent.Store.Set(StateView.Cfg, leaf.Id, s_schema.Platform, StateValue.FromString("wrapped"));
        c.RunUntil(() => parent.Dsc(leaf.Id, s_schema.PhysState) == SyncCluster.Enum(PhysState.PowerCycle) && leaf.Cfg(leaf.Id, s_schema.Platform).String == "wrapped", TimeSpan.FromSeconds(5), "deltas both ways");
        var drops = c.All.Sum(m => m.Engine.Counters.TotalDrops);
        var hellos = captured.Count;

        c.Run(TimeSpan.FromSeconds(60));
        c.Network.Tap = null;

        Assert.InRange(captured.Skip(hellos).Count(f => CompactHello.IsCompact(f.Bytes[0])), 22, 26);
        Assert.InRange(parent.Engine.HighestReceived(leaf.Id), wrap + 5, wrap + 20);
        Assert.InRange(leaf.Engine.HighestReceived(parent.Id), wrap + 5, wrap + 20);
        Assert.Equal(drops, c.All.Sum(m => m.Engine.Counters.TotalDrops));
        Assert.Equal(AdjacencyState.Full, leaf.ParentAdjacency!.State);

        // A hello from before the wrap, replayed, is reconstructed into the block before and refused as a replay.
        var before = captured.First(f => f.Up && CompactHello.IsCompact(f.Bytes[0]) && CompactHello.Read(f.Bytes).SequenceLow > uint.MaxValue - 8).Bytes;
        var attacker = c.Network.CreateTransport(new InMemoryEndPoint(4242));
        attacker.SendDatagram(SyncCluster.EndPointOf(parent.Id), before);
        c.Run(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, parent.Engine.Counters.Drops(DropReason.Replay));

        // So is one that fell behind the window: 2000 frames later, its low bits land in the next block, where
        // the MAC fails; it verifies one block back, so it is counted as the replay it is.
        c.Executor.Post(() => leaf.Engine.SetSendSequence(parent.Id, wrap + 2000));
        c.Time.RunUntilIdle();
        leaf.Store.Set(StateView.Dsc, leaf.Id, s_schema.PhysState, SyncCluster.Enum(PhysState.PowerOn));
        c.RunUntil(() => parent.Dsc(leaf.Id, s_schema.PhysState) == SyncCluster.Enum(PhysState.PowerOn), TimeSpan.FromSeconds(5), "delta after the jump");
        var afterJump = captured.Last(f => f.Up && CompactHello.IsCompact(f.Bytes[0])).Bytes;
        attacker.SendDatagram(SyncCluster.EndPointOf(parent.Id), afterJump);
        c.Run(TimeSpan.FromMilliseconds(10));
        Assert.Equal(2, parent.Engine.Counters.Drops(DropReason.Replay));
        Assert.Equal(0, parent.Engine.Counters.Drops(DropReason.BadMac));
        c.Run(TimeSpan.FromSeconds(30));
        Assert.Equal(AdjacencyState.Full, leaf.ParentAdjacency!.State);
        Assert.Equal(2, parent.Engine.Counters.TotalDrops);
    }

    [Fact]
    public async Task A_peer_that_gave_no_adjacency_id_gets_full_frame_hellos()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(12));
        var leaf = c[c.Leaves[0]];
        var parent = c[c.Tier1[0]];
        c.Executor.Post(() => parent.Engine.UseFullHellos(leaf.Id));
        c.Time.RunUntilIdle();
        var captured = Capture(c, leaf.Id, parent.Id);
        var received = leaf.Engine.Counters.Received(MessageType.Hello);

        c.Run(leaf.Engine.Options.DeadInterval * 2);
        c.Network.Tap = null;

        // Down: full frames (header, 11-byte digest payload, MAC); up: still compact. Both accepted.
        var down = captured.Where(f => !f.Up).ToList();
        Assert.NotEmpty(down);
        Assert.All(down, f => Assert.Equal((FrameHeader.Magic, (byte)MessageType.Hello, FrameHeader.Overhead + 11), (f.Bytes[0], f.Bytes[2], f.Bytes.Length)));
        Assert.All(captured.Where(f => f.Up), f => Assert.Equal(CompactHello.Size, f.Bytes.Length));
        Assert.Equal(down.Count, leaf.Engine.Counters.Received(MessageType.Hello) - received);
        Assert.Equal(0, c.All.Sum(m => m.Engine.Counters.TotalDrops));
        Assert.Equal(AdjacencyState.Full, leaf.ParentAdjacency!.State);
    }

    [Fact]
    public async Task Hello_ticks_are_jittered_symmetrically_one_per_interval_on_average()
    {
        await using var c = SyncCluster.Settled(TimeSpan.FromSeconds(12));
        var leaf = c[c.Leaves[0]];
        var parent = c[c.Tier1[0]];
        var options = leaf.Engine.Options;
        var captured = Capture(c, leaf.Id, parent.Id);

        c.Run(options.HelloInterval * 400);
        c.Network.Tap = null;

        foreach (var up in new[] { true, false })
        {
            // Hellos only: the 30-minute full refresh sends deltas and acks in between.
            var times = captured.Where(f => f.Up == up && CompactHello.IsCompact(f.Bytes[0])).Select(f => f.At).ToList();
            var gaps = times.Zip(times.Skip(1), (a, b) => b - a).ToList();

            // Every gap within ±5 % of the interval, some on each side of it, and exactly one per interval on average.
            Assert.All(gaps, g => Assert.InRange(g, options.HelloInterval * (1 - (options.HelloJitter / 2)), options.HelloInterval * (1 + (options.HelloJitter / 2))));
            Assert.Contains(gaps, g => g < options.HelloInterval * 0.98);
            Assert.Contains(gaps, g => g > options.HelloInterval * 1.02);
            var mean = (times[^1] - times[0]) / gaps.Count;
            Assert.InRange(mean / options.HelloInterval, 0.995, 1.005);
        }
    }
}
