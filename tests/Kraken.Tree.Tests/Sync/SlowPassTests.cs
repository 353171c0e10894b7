// Timers armed after a pass that took longer than the delay they wait for: the engine must keep repairing.
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class SlowPassTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

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
        var time = new VirtualTimeProvider();
        var executor = new ManualExecutor(time.Work);
        var network = new InMemoryNetwork(time, executor, 7) { Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(2) } };
        var slow = new SlowClock(time);
        var root = NodeId.FromName("root");
        var child = NodeId.FromName("child");
        var below = Enumerable.Range(0, 2000).Select(i => NodeId.FromName($"leaf{i}")).ToArray();

        var rootStore = new StateStore();
        rootStore.Batch(s =>
        {
            s.Create(NodeRecord.Empty(root));
            s.Create(NodeRecord.Empty(child).With(s_schema.ParentId, StateValue.FromNodeId(root)));
            foreach (var id in below)
            {
                s.Create(NodeRecord.Empty(id).With(s_schema.ParentId, StateValue.FromNodeId(child)));
            }
        });
        var childStore = new StateStore();

        // Long dead intervals: the drift must not kill the adjacency (a re-join would resend everything and hide
        // the failure under test).
        SyncOptions Options(NodeId id, IReadOnlyList<System.Net.EndPoint> parents) =>
            SyncOptions.ForProfile(SyncProfile.Kraken, id, SyncCluster.Secret) with
            {
                Parents = parents,
                DeadInterval = TimeSpan.FromMinutes(10),
            };

        await using var rootTransport = new SlowTransport(network.CreateTransport(SyncCluster.EndPointOf(root)), slow, TimeSpan.FromMilliseconds(100));
        await using var childTransport = network.CreateTransport(SyncCluster.EndPointOf(child));
        var rootEngine = new SyncEngine(Options(root, []), rootStore, rootTransport, slow, executor);
        var childEngine = new SyncEngine(Options(child, [SyncCluster.EndPointOf(root)]), childStore, childTransport, time, executor);
        rootEngine.Start();
        childEngine.Start();
        Assert.True(time.RunUntil(() => childEngine.Parent?.State == AdjacencyState.Full && childStore.Count == 2001, TimeSpan.FromMinutes(1)), "the child joined");
        time.Advance(TimeSpan.FromSeconds(10));

        // The child is cut off while 2,000 Cfg changes go in at the root; every delta for them is lost.
        network.Partition(SyncCluster.EndPointOf(root), SyncCluster.EndPointOf(child));
        rootTransport.Slow = true;
        for (var i = 0; i < below.Length; i++)
        {
            rootStore.Set(StateView.Cfg, below[i], s_schema.Nodename, StateValue.FromString($"n{i}"));
            if (i % 100 == 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(300));
            }
        }

        time.Advance(TimeSpan.FromSeconds(6) - TimeSpan.FromMilliseconds(300 * (below.Length / 100)));
        network.Heal(SyncCluster.EndPointOf(root), SyncCluster.EndPointOf(child));
        rootTransport.Slow = false;

        // Retransmission (capped at the hello interval) delivers them long before the 30-minute full refresh.
        bool Arrived() => below.Select((id, i) => (id, i)).All(p => childStore.Get(StateView.Cfg, p.id)?.Get(s_schema.Nodename) is { IsSet: true } v && v.String == $"n{p.i}");
        Assert.True(time.RunUntil(Arrived, TimeSpan.FromMinutes(1)),
            $"{below.Count(id => childStore.Get(StateView.Cfg, id)?.Get(s_schema.Nodename).IsSet != true)} of {below.Length} changes still missing at the child a minute after the partition healed");

        var stopRoot = rootEngine.DisposeAsync();
        var stopChild = childEngine.DisposeAsync();
        time.RunUntilIdle();
        await stopRoot;
        await stopChild;
    }
}
