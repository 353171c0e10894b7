// The power module in the daemon: drivers and limits from Modules:Power, a reconcile module, bulk operations for the API.
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Modules.Power.Qemu;
using Kraken.Modules.Power.Redfish;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Modules;

/// <summary>
/// Section <c>Modules:Power</c>. Creates the drivers it names (ipmi, redfish, qemu, sim) plus any
/// <see cref="IPowerDriver"/> the host registered as a service, a <see cref="PowerModule"/> over them on an
/// executor of its own, and hands that to the reconcile engine. Absent section or <c>Enabled: false</c>: no power
/// control (the API's power endpoints answer 409). Secrets come from files or the environment through an
/// <see cref="ICredentialProvider"/> and stay inside the drivers.
/// </summary>
public sealed partial class PowerDaemonModule(IEnumerable<IPowerDriver> hostDrivers) : IDaemonModule, IAsyncDisposable
{
    private readonly List<IPowerDriver> _drivers = [];
    private SerialExecutor? _executor;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public string Name => "Power";

    /// <summary>The running module; null when power control is off (or before start).</summary>
    public PowerModule? Module { get; private set; }

    public PowerSettings? Settings { get; private set; }

    /// <summary>Bulk operations started through the API; null when power control is off.</summary>
    public PowerOperations? Operations { get; private set; }

    /// <summary>Where the drivers find the secrets of credential references; null before start.</summary>
    public ICredentialProvider? Credentials { get; private set; }

    /// <summary>The drivers in use, by name.</summary>
    public IReadOnlyList<IPowerDriver> Drivers => _drivers;

    public IEnumerable<IReconcileModule> Create(DaemonModuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Configuration.Exists())
        {
            return [];
        }

        var host = hostDrivers.ToList();
        var settings = PowerSettings.Load(context.Configuration, host.Select(d => d.Name));
        if (!settings.Enabled)
        {
            return [];
        }

        var path = context.Configuration.Path;
        var names = settings.DriverNames.Concat(host.Select(d => d.Name)).ToList();
        var options = settings.ToPowerOptions(path, names);

        // Everything is validated: from here on nothing throws for configuration reasons.
        _logger = context.LoggerFactory.CreateLogger("Kraken.Daemon.Power");
        // Configured credentials first, then those received from the parent at join (a node booted over the network).
        var credentials = context.ReceivedCredentials is { } received
            ? new CompositeCredentialProvider(settings.CreateCredentialProvider(), received)
            : settings.CreateCredentialProvider();
        Credentials = credentials;
        foreach (var name in settings.DriverNames)
        {
            _drivers.Add(name switch
            {
                PowerSettings.Ipmi => new IpmiPowerDriver(credentials, settings.IpmiOptions, context.Time),
                PowerSettings.Redfish => new RedfishPowerDriver(credentials, settings.RedfishOptions),
                PowerSettings.Qemu => new QemuPowerDriver(settings.QemuOptions, context.Time),
                _ => new SimPowerDriver(context.Time, settings.SimOptions),
            });
        }

        _drivers.AddRange(host);
        _executor = new SerialExecutor(ex => Log.ExecutorFailed(_logger, ex));
        Module = new PowerModule(_drivers, new StoppingExecutor(_executor), context.Time, options, new PerNodeRunLogger(context.LoggerFactory.CreateLogger<PowerModule>()));
        Operations = new PowerOperations(settings.OperationHistory, settings.MaxRunningOperations, context.Time)
        {
            OnStarted = op => Log.OperationStarted(_logger, op.Id, op.Action, op.Requested, op.SetCfg),
            OnFinished = op =>
            {
                var s = op.Snapshot();
                Log.OperationDone(_logger, op.Id, op.Action, op.Requested, s.Ok, s.Failed, s.TimedOut, s.Elapsed.TotalSeconds, s.State);
            },
        };
        Settings = settings;
        Log.Started(
            _logger,
            string.Join(", ", _drivers.Select(d => d.Name)),
            options.CallTimeout.TotalSeconds,
            options.Retries,
            options.DefaultDriverConcurrency,
            options.BmcConcurrency,
            options.PollInterval.TotalSeconds,
            settings.Credentials.Directory ?? "-",
            settings.Credentials.Environment ? settings.Credentials.EnvironmentPrefix + "*" : "-");
        return [Module];
    }

    public async ValueTask DisposeAsync()
    {
        if (Operations is { } operations)
        {
            // Running bulk operations end as "cancelled"; their calls are abandoned, not waited for.
            await operations.CancelAllAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        Module?.Dispose();
        Module = null;
        if (_executor is { } executor)
        {
            _executor = null;
            await executor.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var driver in _drivers.OfType<IDisposable>())
        {
            driver.Dispose();
        }

        _drivers.Clear();
    }

    /// <summary>
    /// Posts to the power executor until it is disposed, then drops: a driver call or BMC timer that completes
    /// during shutdown must not throw on a thread-pool thread.
    /// </summary>
    private sealed class StoppingExecutor(SerialExecutor inner) : ISerialExecutor
    {
        public void Post(Action<object?> work, object? state)
        {
            try
            {
                inner.Post(work, state);
            }
            catch (ObjectDisposedException)
            {
                // Shutting down: the module is disposed and nothing waits for this completion.
            }
        }
    }

    /// <summary>
    /// The module's logger minus its "bulk done" line: the daemon runs each node of an operation as its own bulk
    /// run (for progress), so that line would come once per node; the daemon logs one line per operation instead.
    /// </summary>
    private sealed class PerNodeRunLogger(ILogger inner) : ILogger<PowerModule>
    {
        private const int BulkDoneEventId = 3;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != BulkDoneEventId)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Power operation {Id} (power {Action}, {Nodes} node(s)) started; Cfg /PhysState set: {SetCfg}")]
        public static partial void OperationStarted(ILogger logger, string id, string action, int nodes, bool setCfg);

        [LoggerMessage(EventId = 303, Level = LogLevel.Information, Message = "Power operation {Id} (power {Action}, {Nodes} node(s)) {State}: {Ok} ok, {Failed} failed, {TimedOut} timed out in {Seconds:0.###} s")]
        public static partial void OperationDone(ILogger logger, string id, string action, int nodes, int ok, int failed, int timedOut, double seconds, PowerOperationState state);

        [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Power control: drivers [{Drivers}], call timeout {CallTimeout} s, {Retries} retries, {DriverLimit} calls per driver, {BmcLimit} per BMC, polling every {Poll} s; credentials from directory {Directory}, environment {Environment}")]
        public static partial void Started(ILogger logger, string drivers, double callTimeout, int retries, int driverLimit, int bmcLimit, double poll, string directory, string environment);

        [LoggerMessage(EventId = 301, Level = LogLevel.Error, Message = "The power module's executor caught an exception")]
        public static partial void ExecutorFailed(ILogger logger, Exception exception);
    }
}
