// The running daemon: the state store, durable Cfg, the sync and reconcile engines and the modules, started in order.
using Kraken.Daemon.Modules;
using Kraken.Modules.Power;
using Kraken.Modules;
using Kraken.Daemon.Storage;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Kraken.Tree.Sync;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Owns the engines of one daemon. <see cref="StartAsync"/> loads Cfg (durable store at the root, or a state
/// file on first start), creates the modules, then starts reconcile and sync; <see cref="StopAsync"/> stops them
/// in reverse order and flushes the durable store. The API reads everything through this class.
/// </summary>
public sealed partial class KrakenDaemon : IHostedService, IAsyncDisposable
{
    private readonly IConfiguration _configuration;
    private readonly IEnumerable<IDaemonModule> _modules;
    private readonly ILoggerFactory _loggerFactory;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly List<IDaemonModule> _started = [];
    private readonly List<string> _active = [];
    private SerialExecutor? _syncExecutor;
    private SerialExecutor? _reconcileExecutor;
    private SocketTransport? _transport;
    private SyncEngine? _sync;
    private ReconcileEngine? _reconcile;
    private DurableCfg? _durable;
    private Boot.BootServices? _bootServices;
    private readonly CancellationTokenSource _stopping = new();

    // Why the engine is frozen: the cluster's freeze (from the root), this daemon's own, a child not joined yet, a
    // booted node whose services are not up yet. It dispatches only when none holds.
    private readonly Lock _freezeLock = new();
    private bool _localFrozen;
    private bool _joined;
    private bool _servicesPending;
    private bool _appliedFrozen;

    public KrakenDaemon(DaemonOptions options, IConfiguration configuration, IEnumerable<IDaemonModule> modules, ILoggerFactory loggerFactory, IServiceProvider services, TimeProvider? time = null)
    {
        Options = options;
        _configuration = configuration;
        _modules = modules;
        _loggerFactory = loggerFactory;
        _services = services;
        Time = time ?? TimeProvider.System;
        _logger = loggerFactory.CreateLogger("Kraken.Daemon");
        Store = new StateStore(StateSchema.Default);
        Bootstrap = new BootstrapCredentials(Time, options.Sync.BootstrapLifetime) { NeighbourLookup = NeighbourTable.Lookup };
    }

    /// <summary>The bootstrap credentials this daemon issues to the nodes it boots (docs/protocol.md 5.2).</summary>
    public BootstrapCredentials Bootstrap { get; }

    /// <summary>The named secrets (BMC credentials) the parent sealed into this daemon's first join.</summary>
    public InMemoryCredentialProvider ReceivedCredentials { get; } = new();

    /// <summary>What a node booted over the network serves from its Cfg; null for a daemon started with a configuration.</summary>
    public Boot.BootServices? BootServices => _bootServices;

    /// <summary>The freeze: effective (the engine's), the cluster's (set at the root, carried down), and this daemon's own.</summary>
    public FreezeState Freeze
    {
        get
        {
            lock (_freezeLock)
            {
                return new FreezeState(_appliedFrozen, _sync?.Control.Frozen ?? false, _localFrozen);
            }
        }
    }

    public DaemonOptions Options { get; }

    /// <summary>Raised on the reconcile executor for each step event; handlers must only queue.</summary>
    public event Action<MutationEvent>? MutationEvent;

    public TimeProvider Time { get; }

    public StateStore Store { get; }

    public NodeId Self => Options.NodeId;

    public SyncEngine Sync => _sync ?? throw NotStarted();

    public ReconcileEngine Reconcile => _reconcile ?? throw NotStarted();

    /// <summary>The durable Cfg store; null on a child or a root configured with ":memory:".</summary>
    public DurableCfg? Durable => _durable;

    /// <summary>The sync protocol's bound address (port resolved when 0 was configured).</summary>
    public System.Net.EndPoint? SyncEndPoint => _transport?.LocalEndPoint;

    /// <summary>Names of the modules that run: configured in <c>Modules:{Name}</c> or serving reconcile modules.</summary>
    public IReadOnlyList<string> ModuleNames => _active;

    /// <summary>Completes once the store's changes up to now are on disk (at once without a durable store).</summary>
    public Task CommitAsync(CancellationToken cancellationToken = default) =>
        _durable?.WaitDurableAsync(Store.Sequence, cancellationToken) ?? Task.CompletedTask;

    /// <summary>
    /// Freezes (true) or thaws (false) and returns the effective state once it has taken effect. At the root this is the
    /// cluster's freeze: saved in the durable store and carried to every tier. At a child it is this daemon's own
    /// freeze, on top of the cluster's: a child's thaw does not undo a freeze made at the root.
    /// </summary>
    public async Task<bool> SetFrozenAsync(bool frozen)
    {
        var engine = Reconcile;
        if (Options.IsRoot)
        {
            var control = await Sync.SetFrozenAsync(frozen).ConfigureAwait(false);
            _durable?.SaveControl(control);
            lock (_freezeLock)
            {
                // At the root its own freeze and the cluster's are one; a thaw ends a configured start-frozen too.
                _localFrozen = false;
            }
        }
        else
        {
            lock (_freezeLock)
            {
                _localFrozen = frozen;
            }
        }

        ApplyFreeze();

        // The engine applies freeze and thaw on its executor in order; this runs after it.
        return await _reconcileExecutor!.InvokeAsync(() => engine.IsFrozen).ConfigureAwait(false);
    }

    /// <summary>Freezes or thaws the engine when the reasons to be frozen changed.</summary>
    private void ApplyFreeze()
    {
        lock (_freezeLock)
        {
            if (_reconcile is not { } engine)
            {
                return;
            }

            var frozen = ShouldFreeze();
            if (frozen == _appliedFrozen)
            {
                return;
            }

            _appliedFrozen = frozen;
            if (frozen)
            {
                engine.Freeze();
            }
            else
            {
                engine.Thaw();
            }

            Log.FreezeChanged(_logger, frozen, _sync?.Control.Frozen ?? false, _localFrozen, !_joined, _servicesPending);
        }
    }

    private bool ShouldFreeze() => (_sync?.Control.Frozen ?? false) || _localFrozen || !_joined || _servicesPending;

    /// <summary>The BMC credentials a child that joined with a bootstrap credential gets: those its subtree's Cfg names, but its own.</summary>
    private IReadOnlyDictionary<string, string> SecretsFor(NodeId child, IReadOnlyCollection<NodeId> subtree)
    {
        var provider = _started.OfType<PowerDaemonModule>().Select(p => p.Credentials).FirstOrDefault(c => c is not null)
            ?? (ICredentialProvider?)_bootServices?.Credentials;
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
        if (provider is null)
        {
            return secrets;
        }

        foreach (var id in subtree)
        {
            if (id == child || Store.Get(StateView.Cfg, id)?.GetExtension<Tree.State.Proto.Power>(StandardExtensions.Power) is not { HasCredential: true } power)
            {
                continue;
            }

            if (!secrets.ContainsKey(power.Credential) && provider.TryGetSecret(power.Credential, out var secret))
            {
                secrets[power.Credential] = secret;
            }
        }

        return secrets;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            LoadCfg();
            StartEngines();
        }
        catch
        {
            // Whatever failed (a module's config, a bad state file, a busy port), leave nothing open behind.
            StopAsync(CancellationToken.None).GetAwaiter().GetResult();
            throw;
        }

        return Task.CompletedTask;
    }

    private void LoadCfg()
    {
        if (Options.IsRoot && Options.Store.Path is { } path && path != DaemonOptions.MemoryStore)
        {
            var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            // A file that is not a usable database stops start-up with CfgStoreException naming it (exit 1).
            var database = new CfgDatabase(path);
            try
            {
                _durable = new DurableCfg(Store, database, _loggerFactory.CreateLogger<DurableCfg>());
            }
            catch
            {
                database.Dispose();
                throw;
            }

            Log.DurableLoaded(_logger, path, _durable.LoadedNodes, database.JournalMode);
        }

        if (Options.Store.Import is { } import && Store.Count == 0)
        {
            var result = StateFileImporter.ImportFile(Store, import);
            Log.Imported(_logger, import, result.Created);
        }
    }

    private void StartEngines()
    {
        var joinOptions = JoinSettings.Read(_configuration.GetSection("Modules").GetSection("Join"));
        var modules = new List<IReconcileModule>();
        if (Options.Boot is { } boot)
        {
            // A node booted over the network: power and PXE from its Cfg (after the join), not from configuration.
            _bootServices = new Boot.BootServices(boot, Self, Store, Time, _loggerFactory, Bootstrap, ReceivedCredentials, BootDirectory);
            modules.AddRange(_bootServices.CreateModules());
            _servicesPending = true;
        }

        foreach (var module in _modules)
        {
            var section = _configuration.GetSection("Modules").GetSection(module.Name);
            if (section["Enabled"] is { } enabled && bool.TryParse(enabled, out var on) && !on)
            {
                continue;
            }

            if (_bootServices is not null && module is PowerDaemonModule or PxeDaemonModule)
            {
                if (section.Exists())
                {
                    throw new DaemonConfigException(section.Path, "a node started with --boot serves power and PXE as its Cfg says; this section does not apply");
                }

                continue;
            }

            var context = new DaemonModuleContext(Self, Store, section, Options.IsRoot, Time, _loggerFactory, _services)
            {
                Bootstrap = Bootstrap,
                ReceivedCredentials = ReceivedCredentials,
                SyncPort = Options.SyncBind.Port == 0 ? 31415 : Options.SyncBind.Port,
            };
            var created = module.Create(context).ToList();
            modules.AddRange(created);
            _started.Add(module);
            if (created.Count > 0 || section.Exists())
            {
                _active.Add(module.Name);
            }
        }

        // A child dispatches nothing before its first join (it has no Cfg to act on, and the cluster may be frozen).
        var control = _durable?.LoadedControl ?? default;
        _localFrozen = Options.Reconcile.StartFrozen;
        _joined = Options.IsRoot;
        _appliedFrozen = control.Frozen || _localFrozen || !_joined || _servicesPending;
        var composed = ModuleSet.Compose(modules, joinOptions);
        _reconcileExecutor = new SerialExecutor(ex => Log.EngineFailed(_logger, ex, "reconcile"));
        _reconcile = new ReconcileEngine(
            Self,
            Store,
            composed,
            _reconcileExecutor,
            Time,
            new ReconcileOptions
            {
                StartFrozen = _appliedFrozen,
                MutationObserver = e => MutationEvent?.Invoke(e),
                RestartGrace = Options.Reconcile.RestartGrace ?? ModuleSet.RestartGrace,
                HoldDuringGrace = ModuleSet.MayBeAlive,
            },
            _loggerFactory.CreateLogger<ReconcileEngine>());

        _syncExecutor = new SerialExecutor(ex => Log.EngineFailed(_logger, ex, "sync"));
        _transport = new SocketTransport(Options.SyncBind, Options.ToSyncOptions().MaxMessageSize, limits: Options.ToTransportLimits());
        _sync = new SyncEngine(
            Options.ToSyncOptions() with { Bootstrap = Bootstrap, SecretsFor = SecretsFor, InitialControl = control, ParentView = ModuleSet.ParentView(composed) },
            Store,
            _transport,
            Time,
            _syncExecutor,
            _loggerFactory.CreateLogger<SyncEngine>());
        _sync.ControlChanged += _ => ApplyFreeze();
        _sync.SecretsReceived += secrets =>
        {
            foreach (var (name, secret) in secrets)
            {
                if (CredentialNames.IsValid(name))
                {
                    ReceivedCredentials.Set(name, secret);
                }
            }
        };
        _sync.AdjacencyChanged += OnAdjacencyChanged;

        // What this daemon knows of its own node: it runs, so it is powered; the root is the tree's reference point.
        Store.Batch(store =>
        {
            if (!store.Contains(Self))
            {
                store.Create(NodeRecord.Empty(Self, store.Schema));
            }

            store.Set(StateView.Dsc, Self, store.Schema.PhysState, StateValue.FromEnum(Tree.State.Proto.PhysState.PowerOn));
            if (Options.IsRoot)
            {
                store.Set(StateView.Dsc, Self, store.Schema.RunState, StateValue.FromEnum(Tree.State.Proto.RunState.Sync));
            }
        });
        _reconcile.Start();
        _sync.Start();
        Log.Started(_logger, Self, Options.IsRoot ? "root" : "child", _transport.LocalEndPoint, string.Join(", ", Options.Parents), string.Join(", ", ModuleNames));
    }

    /// <summary>The first join of a child: its Cfg (and the cluster's freeze) has arrived; a booted node starts its services.</summary>
    private void OnAdjacencyChanged(AdjacencyTransition t)
    {
        if (t.Role != AdjacencyRole.Parent || t.To is not (AdjacencyState.Exchange or AdjacencyState.Full))
        {
            return;
        }

        lock (_freezeLock)
        {
            if (_joined)
            {
                return;
            }

            _joined = true;
        }

        ApplyFreeze();
        if (_bootServices is { } boot)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await boot.StartAsync(_stopping.Token).ConfigureAwait(false);
                }
                finally
                {
                    lock (_freezeLock)
                    {
                        _servicesPending = false;
                    }

                    ApplyFreeze();
                }
            });
        }
    }

    /// <summary>Where a booted node keeps the boot files it serves its children (a tmpfs under /run).</summary>
    public static string BootDirectory => Environment.GetEnvironmentVariable("KRAKEN_BOOT_DIR") is { Length: > 0 } dir ? dir : "/run/kraken/boot";

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        // Order matters: nothing may post to an executor once it is disposed (a post would throw on a socket
        // or timer thread). So the engine stops its timers, the transport stops receiving, then the executors go.
        if (_sync is not null)
        {
            await _sync.DisposeAsync().ConfigureAwait(false);
        }

        if (_transport is not null)
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }

        _reconcile?.Dispose();
        if (_syncExecutor is not null)
        {
            await _syncExecutor.DisposeAsync().ConfigureAwait(false);
        }

        if (_reconcileExecutor is not null)
        {
            await _reconcileExecutor.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var module in _started)
        {
            if (module is IAsyncDisposable ad)
            {
                await ad.DisposeAsync().ConfigureAwait(false);
            }
            else if (module is IDisposable d)
            {
                d.Dispose();
            }
        }

        _started.Clear();
        if (_bootServices is { } bootServices)
        {
            _bootServices = null;
            await bootServices.DisposeAsync().ConfigureAwait(false);
        }

        if (_durable is not null)
        {
            await _durable.DisposeAsync().ConfigureAwait(false);
            _durable = null;
        }

        _sync = null;
        _reconcile = null;
        _transport = null;
        _syncExecutor = _reconcileExecutor = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);

    private static InvalidOperationException NotStarted() => new("The daemon is not started.");

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Node {Node} started as {Role}; sync on {SyncEndPoint}; parents [{Parents}]; modules [{Modules}]")]
        public static partial void Started(ILogger logger, NodeId node, string role, System.Net.EndPoint syncEndPoint, string parents, string modules);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Durable Cfg {Path}: loaded {Nodes} nodes (journal mode {JournalMode}, each commit synced before it is acknowledged)")]
        public static partial void DurableLoaded(ILogger logger, string path, int nodes, string journalMode);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Imported {Path}: {Created} nodes created")]
        public static partial void Imported(ILogger logger, string path, int created);

        [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "The {Engine} engine's executor caught an exception")]
        public static partial void EngineFailed(ILogger logger, Exception exception, string engine);

        [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Reconcile engine {Frozen}: cluster frozen {Cluster}, frozen here {Local}, not joined yet {NotJoined}, services starting {Starting}")]
        public static partial void FreezeChanged(ILogger logger, bool frozen, bool cluster, bool local, bool notJoined, bool starting);
    }
}

/// <summary>The freeze as a daemon sees it: whether its engine is frozen, whether the cluster is, whether it froze itself.</summary>
public sealed record FreezeState(bool Frozen, bool Cluster, bool Local);
