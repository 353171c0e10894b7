// A root and one child on the in-memory network, the child carrying N leaves, joined and in sync: the setup of the
// tests that break the root's sending and watch the engine repair.
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

internal sealed class RootAndChild : IAsyncDisposable
{
    private static readonly StateSchema s_schema = StateSchema.Default;
    private readonly ISyncTransport _rootTransport;
    private readonly ISyncTransport _childTransport;

    private RootAndChild(InMemoryNetwork network, VirtualTimeProvider time, NodeId[] below, StateStore rootStore, StateStore childStore, ISyncTransport rootTransport, ISyncTransport childTransport, SyncEngine rootEngine, SyncEngine childEngine)
    {
        Network = network;
        (Time, Below, RootStore, ChildStore, RootEngine, ChildEngine) = (time, below, rootStore, childStore, rootEngine, childEngine);
        (_rootTransport, _childTransport) = (rootTransport, childTransport);
    }

    public InMemoryNetwork Network { get; }

    public VirtualTimeProvider Time { get; }

    /// <summary>The leaves under the child, whose Cfg flows from the root to the child.</summary>
    public NodeId[] Below { get; }

    public StateStore RootStore { get; }

    public StateStore ChildStore { get; }

    public SyncEngine RootEngine { get; }

    public SyncEngine ChildEngine { get; }

    /// <summary>
    /// Starts both engines and runs until the child is Full with every record. The dead interval is long (10 min)
    /// so that whatever the test does to the root's sending cannot end the adjacency: a re-join would resend
    /// everything and hide the failure under test.
    /// </summary>
    /// <param name="leaves">Leaves under the child.</param>
    /// <param name="seed">The network's random seed.</param>
    /// <param name="rootClock">The root engine's clock, made from the shared virtual one (default: that one).</param>
    /// <param name="wrapRoot">Wraps the root's transport (given the root's clock).</param>
    public static RootAndChild Start(int leaves, int seed, Func<VirtualTimeProvider, TimeProvider>? rootClock = null, Func<ISyncTransport, TimeProvider, ISyncTransport>? wrapRoot = null)
    {
        var time = new VirtualTimeProvider();
        var executor = new ManualExecutor(time.Work);
        var network = new InMemoryNetwork(time, executor, seed) { Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(2) } };
        var clock = rootClock?.Invoke(time) ?? time;
        var root = NodeId.FromName("root");
        var child = NodeId.FromName("child");
        var below = Enumerable.Range(0, leaves).Select(i => NodeId.FromName($"leaf{i}")).ToArray();
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
        SyncOptions Options(NodeId id, IReadOnlyList<System.Net.EndPoint> parents) =>
            SyncOptions.ForProfile(SyncProfile.Kraken, id, SyncCluster.Secret) with { Parents = parents, DeadInterval = TimeSpan.FromMinutes(10) };

        var plain = network.CreateTransport(SyncCluster.EndPointOf(root));
        var rootTransport = wrapRoot?.Invoke(plain, clock) ?? plain;
        var childTransport = network.CreateTransport(SyncCluster.EndPointOf(child));
        var rootEngine = new SyncEngine(Options(root, []), rootStore, rootTransport, clock, executor);
        var childEngine = new SyncEngine(Options(child, [SyncCluster.EndPointOf(root)]), childStore, childTransport, time, executor);
        rootEngine.Start();
        childEngine.Start();
        Assert.True(time.RunUntil(() => childEngine.Parent?.State == AdjacencyState.Full && childStore.Count == leaves + 1, TimeSpan.FromMinutes(1)), "the child joined");
        return new RootAndChild(network, time, below, rootStore, childStore, rootTransport, childTransport, rootEngine, childEngine);
    }

    /// <summary>Sets every leaf's Cfg /Nodename to n{i} at the root, advancing the clock 300 ms every <paramref name="step"/> changes.</summary>
    public void RenameAll(int step = int.MaxValue)
    {
        for (var i = 0; i < Below.Length; i++)
        {
            RootStore.Set(StateView.Cfg, Below[i], s_schema.Nodename, StateValue.FromString($"n{i}"));
            if (i % step == 0)
            {
                Time.Advance(TimeSpan.FromMilliseconds(300));
            }
        }
    }

    /// <summary>How many leaves the child does not yet hold with their new name.</summary>
    public int MissingAtChild() => Below.Select((id, i) => (id, i)).Count(p => ChildStore.Get(StateView.Cfg, p.id)?.Get(s_schema.Nodename) is not { IsSet: true } v || v.String != $"n{p.i}");

    public async ValueTask DisposeAsync()
    {
        var stopRoot = RootEngine.DisposeAsync();
        var stopChild = ChildEngine.DisposeAsync();
        Time.RunUntilIdle();
        await stopRoot;
        await stopChild;
        await _rootTransport.DisposeAsync();
        await _childTransport.DisposeAsync();
    }
}
