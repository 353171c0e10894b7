// One daemon's reconcile engine on a virtual clock, with fake modules, for deterministic tests.
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

internal sealed class TestCluster : IDisposable
{
    public TestCluster(ModuleDeclaration[] modules, ReconcileOptions? options = null, NodeId? self = null, bool start = true)
    {
        Work = new WorkQueue();
        Time = new VirtualTimeProvider(Work);
        Executor = new ManualExecutor(Work);
        Store = new StateStore(StateSchema.Default);
        Self = self ?? NodeId.FromName("parent");
        Modules = [.. modules.Select(d => new FakeModule(d, Time, Log))];
        Engine = new ReconcileEngine(Self, Store, Modules, Executor, Time, options);
        if (start)
        {
            Engine.Start();
            Time.RunUntilIdle();
        }
    }

    public WorkQueue Work { get; }

    public VirtualTimeProvider Time { get; }

    public ManualExecutor Executor { get; }

    public StateStore Store { get; }

    public NodeId Self { get; }

    public FakeModule[] Modules { get; }

    public ReconcileEngine Engine { get; }

    /// <summary>Every request received by any module, as <c>mutation@node</c>, in dispatch order.</summary>
    public List<string> Log { get; } = [];

    public FakeModule Module(string name) => Modules.Single(m => m.Name == name);

    /// <summary>Creates a node whose parent is this daemon, with Cfg and Dsc values given as URL=value text.</summary>
    public NodeId AddNode(string name, string[] cfg, string[]? dsc = null)
    {
        var id = NodeId.FromName(name);
        var c = NodeRecord.Empty(id, Store.Schema).Edit();
        if (id != Self)
        {
            c.Set(Store.Schema.ParentId, StateValue.FromNodeId(Self));
        }

        Apply(c, cfg);
        var d = NodeRecord.Empty(id, Store.Schema).Edit();
        Apply(d, dsc ?? []);
        Store.Create(c.Build(), d.Build());
        return id;
    }

    public void SetCfg(NodeId id, string url, string value) => Store.Set(StateView.Cfg, id, url, value);

    public void SetDsc(NodeId id, string url, string value) => Store.Set(StateView.Dsc, id, url, value);

    public string Dsc(NodeId id, string url) => Store.GetRequired(StateView.Dsc, id).Get(url).ToString();

    public NodeReconcileState State(NodeId id) => Engine.GetState(id) ?? throw new InvalidOperationException($"The engine has no state for {id}.");

    /// <summary>Mutation ids dispatched to any module for one node, in order.</summary>
    public List<string> Dispatched(NodeId id) => [.. Log.Where(l => l.EndsWith("@" + id, StringComparison.Ordinal)).Select(l => l[..l.IndexOf('@', StringComparison.Ordinal)])];

    public void Run(TimeSpan span) => Time.Advance(span);

    public void RunIdle() => Time.RunUntilIdle();

    public bool RunUntil(Func<bool> condition, TimeSpan limit) => Time.RunUntil(condition, limit);

    public void Dispose() => Engine.Dispose();

    private static void Apply(NodeEditor editor, string[] values)
    {
        foreach (var kv in values)
        {
            var eq = kv.IndexOf('=', StringComparison.Ordinal);
            editor.Set(kv[..eq], kv[(eq + 1)..]);
        }
    }
}
