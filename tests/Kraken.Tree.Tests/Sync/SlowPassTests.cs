// Timers armed after a pass that took longer than the delay they wait for: the engine must keep repairing.
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Sync;

public sealed class SlowPassTests
{
    /// <summary>
    /// The clock of a slow machine: each datagram or stream sent takes <c>perSend</c> of the sender's time, so a pass that sends
    /// many frames ends well after it started, as under load or on an emulated CPU.
    /// </summary>
    private sealed class SlowClock(VirtualTimeProvider inner) : TimeProvider
    {
        private long _drift;

        public void Spend(TimeSpan time) => _drift += time.Ticks;

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override long GetTimestamp() => inner.GetTimestamp() + _drift;

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() + TimeSpan.FromTicks(_drift);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            inner.CreateTimer(callback, state, dueTime, period);
    }

    /// <summary>A transport whose sends cost time on <see cref="SlowClock"/> while <see cref="Slow"/> is set.</summary>
    private sealed class SlowTransport(ISyncTransport inner, SlowClock clock, TimeSpan perSend) : ISyncTransport
    {
        public bool Slow { get; set; }

        public System.Net.EndPoint LocalEndPoint => inner.LocalEndPoint;

        public int MaxDatagramSize => inner.MaxDatagramSize;

        public int DatagramPort => inner.DatagramPort;

        public void Start(ISyncTransportHandler handler) => inner.Start(handler);

        public void SendDatagram(System.Net.EndPoint remote, ReadOnlySpan<byte> datagram)
        {
            if (Slow)
            {
                clock.Spend(perSend);
            }

            inner.SendDatagram(remote, datagram);
        }

        public IFrameConnection Connect(System.Net.EndPoint remote, object? tag)
        {
            if (Slow)
            {
                clock.Spend(perSend);
            }

            return inner.Connect(remote, tag);
        }

        public System.Net.EndPoint DatagramEndPointOf(IFrameConnection connection, int port) => inner.DatagramEndPointOf(connection, port);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [Fact]
    public async Task Deltas_lost_during_a_partition_arrive_after_it_although_the_sender_runs_slow_passes()
    {
        SlowClock? slow = null;
        SlowTransport? slowTransport = null;
        await using var pair = RootAndChild.Start(2000, 7, time => slow = new SlowClock(time), (t, _) => slowTransport = new SlowTransport(t, slow!, TimeSpan.FromMilliseconds(100)));
        pair.Time.Advance(TimeSpan.FromSeconds(10));

        // The child is cut off while 2,000 Cfg changes go in at the root, and the root runs slow: every delta is lost.
        var network = pair.Network;
        network.Partition(SyncCluster.EndPointOf(NodeId.FromName("root")), SyncCluster.EndPointOf(NodeId.FromName("child")));
        slowTransport!.Slow = true;
        pair.RenameAll(step: 100);
        pair.Time.Advance(TimeSpan.FromSeconds(6) - TimeSpan.FromMilliseconds(300 * (pair.Below.Length / 100)));
        network.Heal(SyncCluster.EndPointOf(NodeId.FromName("root")), SyncCluster.EndPointOf(NodeId.FromName("child")));
        slowTransport.Slow = false;

        // Retransmission (capped at the hello interval) delivers them long before the 30-minute full refresh.
        Assert.True(pair.Time.RunUntil(() => pair.MissingAtChild() == 0, TimeSpan.FromMinutes(1)),
            $"{pair.MissingAtChild()} of {pair.Below.Length} changes still missing at the child a minute after the partition healed");
    }
}
