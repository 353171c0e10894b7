// A simulated tree of sync engines on the in-memory network and a virtual clock, for functional tests.
using System.Collections.Immutable;
using System.Text;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

internal sealed class SyncCluster : IAsyncDisposable
{
    public static readonly byte[] Secret = Encoding.ASCII.GetBytes("cluster-join-secret-for-tests-0001");

    public SyncCluster(int seed = 1)
    {
        Time = new VirtualTimeProvider();
        Executor = new ManualExecutor(Time.Work);
        Network = new InMemoryNetwork(Time, Executor, seed) { Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(2) } };
    }

    public VirtualTimeProvider Time { get; }

    public ManualExecutor Executor { get; }

    public InMemoryNetwork Network { get; }

    public NodeId Root { get; private set; }

    public NodeId[] Tier1 { get; private set; } = [];

    public NodeId[] Leaves { get; private set; } = [];

    public Dictionary<NodeId, Member> Members { get; } = [];

    /// <summary>Every Dsc /RunState change at the root, in order.</summary>
    public RunStateRecorder RootRunStates { get; } = new();

    public Member this[NodeId id] => Members[id];

    public static NodeId Id(string name) => NodeId.FromName(name);

    public static InMemoryEndPoint EndPointOf(NodeId id) => new(new UInt128(id.High, id.Low));

    /// <summary>The root's Cfg of the whole cluster: root, 3 tier-1 nodes, 9 leaves (leaf i under tier-1 i/3, backup (i/3+1)%3).</summary>
    public static List<NodeRecord> ThreeTierCfg(out NodeId root, out NodeId[] tier1, out NodeId[] leaves)
    {
        var schema = StateSchema.Default;
        root = Id("root");
        tier1 = [.. Enumerable.Range(0, 3).Select(i => Id($"t{i}"))];
        leaves = [.. Enumerable.Range(0, 9).Select(i => Id($"l{i}"))];
        var records = new List<NodeRecord> { NodeRecord.Empty(root).Edit().Set(schema.Nodename, StateValue.FromString("root")).Build() };
        for (var i = 0; i < 3; i++)
        {
            records.Add(NodeRecord.Empty(tier1[i]).Edit()
                .Set(schema.Nodename, StateValue.FromString($"t{i}"))
                .Set(schema.ParentId, StateValue.FromNodeId(root))
                .Set(schema.PhysState, StateValue.FromEnum(PhysState.PowerOn))
                .Build());
        }

        for (var i = 0; i < 9; i++)
        {
            records.Add(NodeRecord.Empty(leaves[i]).Edit()
                .Set(schema.Nodename, StateValue.FromString($"l{i}"))
                .Set(schema.ParentId, StateValue.FromNodeId(tier1[i / 3]))
                .Set(schema.BackupParents, StateValue.FromNodeIds([tier1[((i / 3) + 1) % 3]]))
                .Set(schema.PhysState, StateValue.FromEnum(PhysState.PowerOn))
                .Build());
        }

        return records;
    }

    /// <summary>Builds and starts the 3-tier tree; <paramref name="configure"/> adjusts each node's options.</summary>
    public void StartThreeTier(SyncProfile profile = SyncProfile.Kraken, Func<SyncOptions, SyncOptions>? configure = null)
    {
        var cfg = ThreeTierCfg(out var root, out var tier1, out var leaves);
        Root = root;
        Tier1 = tier1;
        Leaves = leaves;
        // As after their DHCP exchange with the root's PXE service: every node below the root starts INIT.
        var rootStore = new StateStore();
        foreach (var r in cfg)
        {
            rootStore.Create(r, r.Id == root ? null : NodeRecord.Empty(r.Id).With(StateSchema.Default.RunState, StateValue.FromEnum(RunState.Init)));
        }

        rootStore.Subscribe(RootRunStates);

        Add(root, rootStore, [], profile, configure);
        for (var i = 0; i < 3; i++)
        {
            Add(tier1[i], new StateStore(), [EndPointOf(root)], profile, configure);
        }

        // Leaves boot once their parents serve them (as after a PXE boot): otherwise a leaf whose primary is still
        // joining lands, correctly, on its backup, and the topology under test would depend on timing.
        RunUntil(() => tier1.All(t => Members[t].ParentAdjacency?.State == AdjacencyState.Full), TimeSpan.FromMinutes(2), "tier-1 nodes joined");
        for (var i = 0; i < 9; i++)
        {
            Add(leaves[i], new StateStore(), [EndPointOf(tier1[i / 3]), EndPointOf(tier1[((i / 3) + 1) % 3])], profile, configure);
        }
    }

    /// <summary>
    /// The 3-tier tree, every adjacency Full, each past its loss estimate's first frames (until then a new adjacency
    /// stretches its dead interval, protocol.md section 10), then <paramref name="settle"/> more (past damping holds).
    /// </summary>
    public static SyncCluster Settled(TimeSpan settle, SyncProfile profile = SyncProfile.Kraken, int seed = 1)
    {
        var c = new SyncCluster(seed);
        c.StartThreeTier(profile);
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(2), "every adjacency Full");
        c.PastWarmUp();
        c.Run(settle);
        return c;
    }

    /// <summary>Runs until every adjacency has measured its link over enough frames to keep its configured dead interval.</summary>
    public void PastWarmUp() => Run(this[Root].Engine.Options.HelloInterval * (LossEstimate.Span + 2));

    public Member Add(NodeId id, StateStore store, IReadOnlyList<System.Net.EndPoint> parents, SyncProfile profile = SyncProfile.Kraken, Func<SyncOptions, SyncOptions>? configure = null, byte[]? secret = null, InMemoryEndPoint? endPoint = null)
    {
        var options = SyncOptions.ForProfile(profile, id, secret ?? Secret) with { Parents = parents };
        options = configure?.Invoke(options) ?? options;
        var transport = Network.CreateTransport(endPoint ?? EndPointOf(id));
        var engine = new SyncEngine(options, store, transport, Time, Executor);
        var member = new Member(id, store, engine, transport);
        Members[id] = member;
        engine.Start();
        return member;
    }

    public IEnumerable<Member> All => Members.Values;

    public bool AllFull() => All.All(m => m.Engine.Adjacencies.All(a => a.State == AdjacencyState.Full)
        && (m.Id == Root || m.Engine.Adjacencies.Any(a => a.Role == AdjacencyRole.Parent && a.State == AdjacencyState.Full)));

    /// <summary>Runs the clock until <paramref name="condition"/> holds; fails the test if it does not within <paramref name="limit"/>.</summary>
    public TimeSpan RunUntil(Func<bool> condition, TimeSpan limit, string what)
    {
        var start = Time.Elapsed;
        Assert.True(Time.RunUntil(condition, limit), $"Not reached within {limit} of virtual time: {what}");
        return Time.Elapsed - start;
    }

    public void Run(TimeSpan duration) => Time.Advance(duration);

    /// <summary>Power loss: the node goes silent without closing anything.</summary>
    public void Crash(NodeId id)
    {
        Network.Crash(EndPointOf(id));
        Members[id].Crashed = true;
    }

    /// <summary>Stops a node's engine (its executor work runs on the virtual clock, so drive it while waiting).</summary>
    public async Task StopAsync(NodeId id)
    {
        var stop = Members[id].Engine.DisposeAsync();
        Time.RunUntilIdle();
        await stop;
    }

    public static StateValue Enum<T>(T value)
        where T : struct, Enum => StateValue.FromEnum(value);

    public async ValueTask DisposeAsync()
    {
        foreach (var m in All)
        {
            var stop = m.Engine.DisposeAsync();
            Time.RunUntilIdle();
            await stop;
            await m.Transport.DisposeAsync();
        }
    }

    internal sealed class RunStateRecorder : IStateObserver
    {
        public List<(NodeId Node, StateValue From, StateValue To)> Changes { get; } = [];

        public void OnChanges(ReadOnlySpan<StateChange> changes)
        {
            foreach (var c in changes)
            {
                if (c.View == StateView.Dsc && ReferenceEquals(c.Url, StateSchema.Default.RunState))
                {
                    Changes.Add((c.Node, c.Old, c.New));
                }
            }
        }
    }

    internal sealed class Member(NodeId id, StateStore store, SyncEngine engine, InMemoryTransport transport)
    {
        public NodeId Id { get; } = id;

        public StateStore Store { get; } = store;

        public SyncEngine Engine { get; } = engine;

        public InMemoryTransport Transport { get; } = transport;

        public bool Crashed { get; set; }

        public AdjacencyInfo? ParentAdjacency => Engine.Adjacencies.FirstOrDefault(a => a.Role == AdjacencyRole.Parent);

        public StateValue Dsc(NodeId node, StateUrl url) => Store.Get(StateView.Dsc, node)?.Get(url) ?? default;

        public StateValue Cfg(NodeId node, StateUrl url) => Store.Get(StateView.Cfg, node)?.Get(url) ?? default;
    }

    public static ImmutableArray<NodeId> Ids(params NodeId[] ids) => [.. ids];
}
