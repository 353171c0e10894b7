// The reconcile engine: plans and drives mutations so that every node's Dsc converges to its Cfg.
using Kraken.Net.Execution;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Tree.Reconcile;

/// <summary>
/// Watches a <see cref="StateStore"/> and, for every node whose Dsc differs from its Cfg on a mutated URL,
/// runs the cheapest path of mutations to the goal one step at a time: dispatches each step to its module
/// (when this daemon is in the step's context), waits for Dsc to confirm it, applies the step's fail-to value
/// on timeout and re-plans with backoff, and re-plans when Cfg or Dsc changes mid-path. A single-threaded state
/// machine on an <see cref="ISerialExecutor"/>: every method that changes engine state posts onto it, and all
/// timing comes from the injected <see cref="TimeProvider"/>, so runs on a virtual clock are deterministic.
/// </summary>
public sealed partial class ReconcileEngine : IDisposable
{
    private readonly StateStore _store;
    private readonly ISerialExecutor _executor;
    private readonly TimeProvider _time;
    private readonly ReconcileOptions _options;
    private readonly ILogger _logger;
    private readonly Planner _planner;
    private readonly StateLayout _layout;
    private readonly IParentPolicy _parentPolicy;
    private readonly ReconcileMetrics _metrics;
    private readonly Dictionary<string, ModuleSlot> _slots = new(StringComparer.Ordinal);
    private readonly Dictionary<NodeId, NodeRun> _runs = [];
    private readonly Observer _observer;
    private IDisposable? _subscription;
    private volatile bool _frozen;

    // The end of the restart grace, set at the first evaluation while not frozen (ReconcileOptions.RestartGrace).
    private DateTimeOffset? _graceEnds;
    private int _started;
    private bool _disposed;

    /// <param name="self">The id of the daemon this engine runs in (context Self; default parent policy).</param>
    /// <param name="store">The Cfg and Dsc to reconcile; Dsc is written through it.</param>
    /// <param name="modules">The modules; their declarations are validated here.</param>
    /// <param name="executor">Where the engine runs; every state change happens there.</param>
    /// <param name="time">The clock for timeouts, backoff and timestamps.</param>
    /// <param name="options">Limits and behaviour; validated here.</param>
    /// <param name="logger">Where the engine logs; none by default.</param>
    /// <exception cref="ModuleRegistrationException">The modules' declarations are invalid.</exception>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public ReconcileEngine(
        NodeId self,
        StateStore store,
        IEnumerable<IReconcileModule> modules,
        ISerialExecutor executor,
        TimeProvider time,
        ReconcileOptions? options = null,
        ILogger<ReconcileEngine>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(modules);
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(time);
        Self = self;
        _store = store;
        _executor = executor;
        _time = time;
        _options = options ?? new ReconcileOptions();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        var list = modules.ToList();
        var catalog = MutationCatalog.Create(store.Schema, list);
        _options.Validate(catalog.Modules.Select(m => m.Name));
        Graph = new MutationGraph(catalog);
        _planner = new Planner(Graph, _options.PlanCacheCapacity);
        _layout = catalog.Layout;
        _parentPolicy = _options.ParentPolicy ?? new ParentIdPolicy(self);
        _metrics = new ReconcileMetrics(_options.Meter, list.Select(m => m.Declaration.Name));
        foreach (var module in list)
        {
            var name = module.Declaration.Name;
            var limit = _options.ModuleConcurrency.TryGetValue(name, out var l) ? l : _options.DefaultModuleConcurrency;
            _slots[name] = new ModuleSlot(module, limit);
        }

        _observer = new Observer(this);
        _timer = executor.CreateTimer(time, static s => ((ReconcileEngine)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _frozen = _options.StartFrozen;
        foreach (var module in list)
        {
            module.Attach(new ModuleHost(this, module.Declaration.Name));
        }
    }

    public NodeId Self { get; }

    /// <summary>The graph of the registered modules (export it with <see cref="MutationGraph.ToJson"/> or <see cref="MutationGraph.ToDot"/>).</summary>
    public MutationGraph Graph { get; }

    public MutationCatalog Catalog => Graph.Catalog;

    /// <summary>True once a freeze has taken effect on the executor, until a thaw has.</summary>
    public bool IsFrozen => _frozen;

    /// <summary>This engine's counters so far.</summary>
    public ReconcileCounters Counters => _metrics.Snapshot();

    /// <summary>Starts watching the store and plans every node it holds. Call once.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The reconcile engine is already started.");
        }

        // Subscribe first so no change between the scan and the subscription is lost; duplicates coalesce.
        _subscription = _store.Subscribe(_observer);
        _executor.Post(static s => ((ReconcileEngine)s!).MarkAll(), this);
    }

    /// <summary>Reports a discovery for <paramref name="module"/>: validates it against the module's declarations and writes it to Dsc.</summary>
    public void Discover(string module, NodeId node, StateUrl url, StateValue value)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(url);
        if (!_slots.ContainsKey(module))
        {
            throw new ArgumentException($"No module named '{module}' is registered; registered: {string.Join(", ", _slots.Keys.Order(StringComparer.Ordinal))}.", nameof(module));
        }

        if (!Catalog.IsDiscoverable(module, url, value))
        {
            var allowed = Catalog.DiscoverableValues(module, url).Select(v => v.ToString()).Order(StringComparer.Ordinal).ToList();
            var what = allowed.Count > 0
                ? $"its values for {url.Path} are {string.Join(", ", allowed)}"
                : $"it declares no values for {url.Path}; its URLs are {string.Join(", ", Catalog.DiscoverableUrls(module).Select(u => u.Path))}";
            throw new ArgumentException($"Module '{module}' may not report {url.Path} = {value}: {what}.", nameof(value));
        }

        _store.Set(StateView.Dsc, node, url, value);
    }

    /// <summary>Text form of <see cref="Discover(string, NodeId, StateUrl, StateValue)"/>.</summary>
    public void Discover(string module, NodeId node, string url, string value)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(value);
        var resolved = _store.Schema.Resolve(url);
        Discover(module, node, resolved, NodeEditor.Parse(resolved, value));
    }

    /// <summary>Stops all dispatch: interrupts requests in flight, stops every timer. Takes effect on the executor.</summary>
    public void Freeze() => _executor.Post(static s => ((ReconcileEngine)s!).FreezeCore(), this);

    /// <summary>Resumes dispatch: drops every old path and timer and re-plans every node. Takes effect on the executor.</summary>
    public void Thaw() => _executor.Post(static s => ((ReconcileEngine)s!).ThawCore(), this);

    /// <summary>Forgets a node's failures (after <see cref="ReconcileStatus.Failed"/>) and re-plans it.</summary>
    public void Retry(NodeId node) => _executor.Post(() =>
    {
        if (_runs.TryGetValue(node, out var run) && !run.HasActiveStep)
        {
            run.Attempts = 0;
            run.Status = ReconcileStatus.Idle;
        }

        Evaluate(node);
    });

    /// <summary>Re-evaluates one node, e.g. after the parent policy's answer for it changed (fail-over).</summary>
    public void Refresh(NodeId node) => _observer.Mark(node);

    /// <summary>Re-evaluates every node.</summary>
    public void RefreshAll() => _executor.Post(static s => ((ReconcileEngine)s!).MarkAll(), this);

    /// <summary>Stops watching the store; requests in flight are interrupted on the executor.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _subscription?.Dispose();
        _executor.Post(static s => ((ReconcileEngine)s!).Shutdown(), this);
    }

    private void Shutdown()
    {
        foreach (var run in SortedRuns())
        {
            ReleaseActive(run, interrupt: true);
            run.Generation++;
        }

        _timers.Clear();
        _timer.Dispose();
    }

    private void MarkAll()
    {
        var ids = new List<NodeId>(_store.Count + _runs.Count);
        ids.AddRange(_store.Ids);
        ids.AddRange(_runs.Keys);
        ids.Sort();
        foreach (var id in ids)
        {
            _observer.Mark(id);
        }
    }

    private IEnumerable<NodeRun> SortedRuns() => _runs.Values.OrderBy(r => r.Id).ToList();

    /// <summary>The handle a module reports through, bound to its name.</summary>
    private sealed class ModuleHost(ReconcileEngine engine, string module) : IReconcileHost
    {
        public NodeId Self => engine.Self;

        public StateStore Store => engine._store;

        public void Discover(NodeId node, StateUrl url, StateValue value) => engine.Discover(module, node, url, value);

        public void Discover(NodeId node, string url, string value) => engine.Discover(module, node, url, value);

        public void SetAvailable(bool available) => engine._executor.Post(() => engine.SetAvailable(module, available));

        public void ReportFailure(MutationRequest request, string reason)
        {
            ArgumentNullException.ThrowIfNull(request);
            engine._executor.Post(() => engine.OnReportedFailure(request, reason ?? "no reason given"));
        }
    }
}
