// The running daemon: the state store, durable Cfg, the sync and reconcile engines and the modules, started in order.
using Kraken.Daemon.Modules;
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

    /// <summary>Freezes (true) or thaws (false) the reconcile engine and returns once that has taken effect.</summary>
    public async Task<bool> SetFrozenAsync(bool frozen)
    {
        var engine = Reconcile;
        if (frozen)
        {
            engine.Freeze();
        }
        else
        {
            engine.Thaw();
        }

        // The engine applies freeze and thaw on its executor in order; this runs after it.
        return await _reconcileExecutor!.InvokeAsync(() => engine.IsFrozen).ConfigureAwait(false);
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

            var database = new CfgDatabase(path);
            _durable = new DurableCfg(Store, database, _loggerFactory.CreateLogger<DurableCfg>());
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
        foreach (var module in _modules)
        {
            var section = _configuration.GetSection("Modules").GetSection(module.Name);
            if (section["Enabled"] is { } enabled && bool.TryParse(enabled, out var on) && !on)
            {
                continue;
            }

            var context = new DaemonModuleContext(Self, Store, section, Options.IsRoot, Time, _loggerFactory, _services);
            var created = module.Create(context).ToList();
            modules.AddRange(created);
            _started.Add(module);
            if (created.Count > 0 || section.Exists())
            {
                _active.Add(module.Name);
            }
        }

        _reconcileExecutor = new SerialExecutor(ex => Log.EngineFailed(_logger, ex, "reconcile"));
        _reconcile = new ReconcileEngine(
            Self,
            Store,
            ModuleSet.Compose(modules, joinOptions),
            _reconcileExecutor,
            Time,
            new ReconcileOptions { StartFrozen = Options.Reconcile.StartFrozen, MutationObserver = e => MutationEvent?.Invoke(e) },
            _loggerFactory.CreateLogger<ReconcileEngine>());

        _syncExecutor = new SerialExecutor(ex => Log.EngineFailed(_logger, ex, "sync"));
        _transport = new SocketTransport(Options.SyncBind);
        _sync = new SyncEngine(Options.ToSyncOptions(), Store, _transport, Time, _syncExecutor, _loggerFactory.CreateLogger<SyncEngine>());
        _reconcile.Start();
        _sync.Start();
        Log.Started(_logger, Self, Options.IsRoot ? "root" : "child", _transport.LocalEndPoint, string.Join(", ", Options.Parents), string.Join(", ", ModuleNames));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
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

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Durable Cfg {Path}: loaded {Nodes} nodes (journal mode {JournalMode}, synchronous FULL)")]
        public static partial void DurableLoaded(ILogger logger, string path, int nodes, string journalMode);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Imported {Path}: {Created} nodes created")]
        public static partial void Imported(ILogger logger, string path, int created);

        [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "The {Engine} engine's executor caught an exception")]
        public static partial void EngineFailed(ILogger logger, Exception exception, string engine);
    }
}
