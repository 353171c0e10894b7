// A simulated cluster: the real sync and reconcile engines of every virtual node on one virtual clock.
using System.Text;
using Kraken.Modules;
using Kraken.Modules.Power;
using Kraken.Modules.Pxe;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Sim.Topology;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Sim.Cluster;

/// <summary>
/// N virtual nodes on one <see cref="VirtualTimeProvider"/>, one <see cref="ManualExecutor"/> and one
/// <see cref="InMemoryNetwork"/>. The root daemon runs from the start with the whole cluster's Cfg; every other
/// node is a powered-off machine until its parent's reconcile engine powers and boots it through the simulated
/// modules (power through the real <see cref="PowerModule"/> and its simulated driver), after which its own <see cref="SyncEngine"/> (and, for a parent, its own <see cref="ReconcileEngine"/>)
/// runs and joins. All randomness comes from one generator seeded with <see cref="SimSettings.Seed"/>, and the
/// engines see only the virtual clock, so a run is reproducible.
/// </summary>
internal sealed partial class SimCluster
{
    public static readonly byte[] JoinSecret = Encoding.ASCII.GetBytes("kraken-sim-cluster-join-secret-1");

    private readonly Dictionary<NodeId, int> _index;
    private readonly Daemon?[] _daemons;
    private readonly SyncTotals[] _retired;
    private readonly StateSchema _schema = StateSchema.Default;
    private readonly StateValue _powerOn;
    private readonly StateValue _runInit;
    private readonly IReadOnlyList<string> _parentView;

    public SimCluster(SimSettings settings, SimTopology? topology = null)
    {
        settings.Validate();
        Settings = settings;
        Topology = topology ?? CreateTopology(settings);
        Random = new Random(settings.Seed);
        Time = new VirtualTimeProvider();
        Executor = new ManualExecutor(Time.Work);
        Network = new InMemoryNetwork(Time, Executor, Random.Next()) { Conditions = settings.Conditions };
        Wheel = new EventWheel(Time, Executor, OnEvent);
        Power = new SimPowerDriver(Time, new SimPowerOptions
        {
            OnDelay = settings.PowerOn,
            OffDelay = settings.PowerOff,
            StatusDelay = settings.PowerQuery,
            HangRate = settings.PowerFailure,
            Seed = Random.Next(),
        });
        Power.Applied += OnPowerApplied;
        var n = Topology.Tier.Length;
        _index = new Dictionary<NodeId, int>(n);
        for (var i = 0; i < n; i++)
        {
            _index[Topology.Ids[i]] = i;
        }

        _daemons = new Daemon?[n];
        _retired = new SyncTotals[Topology.TierCounts.Length];
        _powerOn = NodeEditor.Parse(_schema.PhysState, "POWER_ON");
        _runInit = NodeEditor.Parse(_schema.RunState, "INIT");
        _parentView = Kraken.Modules.ModuleSet.ParentView(SimModules.Options(settings));
        ChangeUrl = _schema.ServiceState("app");
        Root = new RootObserver(this);
        StartRoot();
    }

    public SimSettings Settings { get; }

    public SimTopology Topology { get; }

    /// <summary>The run's one random generator: hardware delays, failures, the network's and the engines' seeds.</summary>
    public Random Random { get; }

    public VirtualTimeProvider Time { get; }

    public ManualExecutor Executor { get; }

    public InMemoryNetwork Network { get; }

    public EventWheel Wheel { get; }

    /// <summary>Every machine's power state, behind simulated BMCs: the driver the parents' power modules call.</summary>
    public SimPowerDriver Power { get; }

    /// <summary>What the root sees: every node's Dsc /RunState and when it first reached SYNC.</summary>
    public RootObserver Root { get; }

    /// <summary>The URL the <c>change</c> scenario sets in Cfg and every node applies to its own Dsc.</summary>
    public StateUrl ChangeUrl { get; }

    /// <summary>When each node's own daemon received a changed value of <see cref="ChangeUrl"/> (ticks; 0 when not yet).</summary>
    public long[]? CfgArrived { get; private set; }

    public int Count => Topology.Count;

    public static SimTopology CreateTopology(SimSettings s) => s.Fanout.Count > 1
        ? SimTopology.FromFanouts(s.Fanout)
        : SimTopology.Create(s.Nodes, s.Tiers, s.Fanout.Count == 1 ? s.Fanout[0] : DefaultFanout(s.Nodes, s.Tiers));

    /// <summary>Equal fan-out at every tier: the T-th root of N, at least 2.</summary>
    public static int DefaultFanout(int nodes, int tiers) => Math.Max(2, (int)Math.Ceiling(Math.Pow(nodes, 1.0 / tiers)));

    public int IndexOf(NodeId id) => _index.TryGetValue(id, out var i) ? i : -1;

    /// <summary>Which nodes <paramref name="parent"/> boots: its children in the topology (as its Cfg says).</summary>
    public Func<NodeId, bool> IsChildOf(int parent) => id => _index.TryGetValue(id, out var child) && Topology.Parent[child] == parent;

    public bool IsRunning(int node) => _daemons[node] is not null;

    public SyncEngine? SyncOf(int node) => _daemons[node]?.Sync;

    public StateStore? StoreOf(int node) => _daemons[node]?.Store;

    public ReconcileEngine? ReconcileOf(int node) => _daemons[node]?.Reconcile;

    public static InMemoryEndPoint EndPointOf(NodeId id) => new(new UInt128(id.High, id.Low));

    /// <summary>The root's Cfg of the whole cluster: names, parents, backups, and the goal POWER_ON + SYNC.</summary>
    public IEnumerable<NodeRecord> CfgRecords() => CfgRecords(Topology, Settings.WrongMac);

    /// <summary>The Cfg of <paramref name="t"/>'s nodes, as the root holds it and <c>--export-state</c> writes it.</summary>
    /// <param name="t">The topology.</param>
    /// <param name="wrongMac">Nodes whose Cfg lists another MAC than their firmware has (an inventory error).</param>
    public static IEnumerable<NodeRecord> CfgRecords(SimTopology t, IReadOnlySet<int>? wrongMac = null)
    {
        var schema = StateSchema.Default;
        AddressOf(t.Count);   // throws for a cluster larger than the address range
        var mac = schema.Resolve($"/Extensions/IPv4/Interfaces/{InterfaceName}/Mac");
        var ip = schema.Resolve($"/Extensions/IPv4/Interfaces/{InterfaceName}/Ip");
        var prefix = schema.Resolve($"/Extensions/IPv4/Interfaces/{InterfaceName}/Prefix");
        var gateway = schema.Resolve($"/Extensions/IPv4/Interfaces/{InterfaceName}/Gateway");
        var prefixValue = StateValue.FromUInt(PrefixLength);
        var runSync = NodeEditor.Parse(schema.RunState, "SYNC");
        var powerOn = NodeEditor.Parse(schema.PhysState, "POWER_ON");
        var powerDriver = schema.Resolve("/Extensions/Power/Driver");
        var sim = StateValue.FromString("sim");
        for (var i = 0; i < t.Tier.Length; i++)
        {
            var e = NodeRecord.Empty(t.Ids[i], schema).Edit()
                .Set(schema.Nodename, StateValue.FromString(SimTopology.Name(i)))
                .Set(schema.RunState, runSync)
                .Set(mac, StateValue.FromMac(wrongMac?.Contains(i) == true ? MacOf(i) | 0x00ff_0000_0000UL : MacOf(i)))
                .Set(ip, StateValue.FromIPv4(AddressOf(i)))
                .Set(prefix, prefixValue);
            if (i > 0)
            {
                e.Set(gateway, StateValue.FromIPv4(AddressOf(t.Parent[i])));
                e.Set(schema.ParentId, StateValue.FromNodeId(t.Ids[t.Parent[i]])).Set(schema.PhysState, powerOn).Set(powerDriver, sim);
                if (t.Backup[i] >= 0)
                {
                    e.Set(schema.BackupParents, StateValue.FromNodeIds([t.Ids[t.Backup[i]]]));
                }
            }

            yield return e.Build();
        }
    }

    private void StartRoot()
    {
        var store = new StateStore(_schema);
        var root = Topology.Ids[0];
        store.Batch(s =>
        {
            foreach (var cfg in CfgRecords())
            {
                s.Create(cfg, cfg.Id == root ? NodeRecord.Empty(root, _schema).Edit().Set(_schema.RunState, NodeEditor.Parse(_schema.RunState, "SYNC")).Set(_schema.PhysState, _powerOn).Build() : null);
            }
        });
        store.Subscribe(Root);
        Power.SetState(root, PowerStatus.On);
        StartDaemon(0, store);
    }

    /// <summary>Starts node <paramref name="node"/>'s daemon: its sync engine and, for a parent, its reconcile engine.</summary>
    private void StartDaemon(int node, StateStore? store = null)
    {
        var t = Topology;
        var id = t.Ids[node];
        if (store is null)
        {
            // A booted node knows it is on and starting; the rest of its records come from its parent on join.
            store = new StateStore(_schema);
            store.Create(NodeRecord.Empty(id, _schema), NodeRecord.Empty(id, _schema).Edit().Set(_schema.PhysState, _powerOn).Set(_schema.RunState, _runInit).Build());
        }

        var parents = new List<System.Net.EndPoint>(2);
        if (t.Parent[node] >= 0)
        {
            parents.Add(EndPointOf(t.Ids[t.Parent[node]]));
        }

        if (t.Backup[node] >= 0)
        {
            parents.Add(EndPointOf(t.Ids[t.Backup[node]]));
        }

        var options = SyncOptions.ForProfile(Settings.Profile, id, JoinSecret) with
        {
            Parents = parents,
            HelloInterval = Settings.HelloInterval,
            DeadInterval = Settings.DeadInterval,
            MaxDeadInterval = Settings.MaxDeadInterval,
            Seed = Random.Next(),
            ParentView = _parentView,
        };
        var transport = Network.CreateTransport(EndPointOf(id));
        var sync = new SyncEngine(options, store, transport, Time, Executor);
        ReconcileEngine? reconcile = null;
        IDisposable[] modules = [];
        if (!t.IsLeaf(node))
        {
            var set = SimModules.Create(this, node, store);
            modules = [set];
            (_pxe ??= new PxeModule?[t.Tier.Length])[node] = set.Pxe;
            if (StartDhcpServer(node, store, set.Pxe) is { } dhcp)
            {
                modules = [.. modules, dhcp];
            }

            reconcile = new ReconcileEngine(id, store, set.Modules, Executor, Time, s_reconcileOptions);
            reconcile.Start();
        }

        if (CfgArrived is not null)
        {
            store.Subscribe(new ChangeApplier(this, node, store));
        }

        _daemons[node] = new Daemon(store, sync, transport, reconcile, modules);
        sync.Start();
    }

    private static readonly ReconcileOptions s_reconcileOptions = new() { BackoffBase = TimeSpan.FromSeconds(2), RestartGrace = ModuleSet.RestartGrace, HoldDuringGrace = ModuleSet.MayBeAlive };

    /// <summary>The machine's host dies (its BMC still reports it on): silent on the network, engines stopped.</summary>
    public void Crash(int node) => StopDaemon(node);

    private void StopDaemon(int node)
    {
        if (_daemons[node] is not { } d)
        {
            return;
        }

        Network.Crash(EndPointOf(Topology.Ids[node]));
        _retired[Topology.Tier[node]].Add(d.Sync.Counters);
        if (_pxe is not null)
        {
            _pxe[node] = null;
        }

        d.Reconcile?.Dispose();
        foreach (var m in d.Modules)
        {
            m.Dispose();
        }

        _ = d.Sync.DisposeAsync();
        _daemons[node] = null;
    }

    /// <summary>A crashed machine comes back: powered and booted at once, its daemon starts afresh and re-joins.</summary>
    public void Revive(int node)
    {
        if (_daemons[node] is not null)
        {
            return;
        }

        Power.SetState(Topology.Ids[node], PowerStatus.On);
        StartDaemon(node);
    }

    /// <summary>From now on every daemon applies changes of <see cref="ChangeUrl"/> in its own Cfg to its own Dsc.</summary>
    public void EnableChangeApplier()
    {
        if (CfgArrived is not null)
        {
            return;
        }

        CfgArrived = new long[Topology.Tier.Length];
        for (var i = 0; i < _daemons.Length; i++)
        {
            if (_daemons[i] is { } d)
            {
                d.Store.Subscribe(new ChangeApplier(this, i, d.Store));
            }
        }
    }

    /// <summary>Messages and bytes sent by the engines of each tier, including engines that have since stopped.</summary>
    public SyncTotals[] TotalsByTier()
    {
        var totals = (SyncTotals[])_retired.Clone();
        for (var i = 0; i < _daemons.Length; i++)
        {
            if (_daemons[i] is { } d)
            {
                totals[Topology.Tier[i]].Add(d.Sync.Counters);
            }
        }

        return totals;
    }

    private sealed record Daemon(StateStore Store, SyncEngine Sync, InMemoryTransport Transport, ReconcileEngine? Reconcile, IDisposable[] Modules);

    /// <summary>Applies a node's own Cfg value of the change URL to its Dsc, as an agent on the node would.</summary>
    private sealed class ChangeApplier(SimCluster cluster, int node, StateStore store) : IStateObserver
    {
        public void OnChanges(ReadOnlySpan<StateChange> changes)
        {
            var self = cluster.Topology.Ids[node];
            foreach (var c in changes)
            {
                if (c.View == StateView.Cfg && c.Node == self && ReferenceEquals(c.Url, cluster.ChangeUrl) && c.New.IsSet)
                {
                    var value = c.New;
                    cluster.CfgArrived![node] = cluster.Time.Elapsed.Ticks;
                    cluster.Executor.Post(() => store.Set(StateView.Dsc, self, cluster.ChangeUrl, value));
                }
            }
        }
    }
}

/// <summary>Messages and bytes sent by a set of engines.</summary>
internal struct SyncTotals
{
    public long Messages;
    public long Bytes;

    public void Add(SyncCounters c)
    {
        Messages += c.TotalSent;
        Bytes += c.TotalSentBytes;
    }
}
