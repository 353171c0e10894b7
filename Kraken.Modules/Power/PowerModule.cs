// The power module: PhysState discoveries and mutations for the nodes this daemon powers, over pluggable drivers.
using Kraken.Modules.Power.Internal;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Modules.Power;

/// <summary>
/// Powers a daemon's children (context Child): turns the engine's PhysState steps into driver calls
/// (<c>UKtoOFF</c> reads the state, <c>OFFtoON</c>, <c>ONtoOFF</c>, <c>HANGtoOFF</c>, and <c>HANGtoON</c>, a
/// power cycle (or power-on) that recovers a hung node in one step), polls every node it powers and reports
/// what it finds as discoveries, and runs bulk operations with a summary. Calls are bounded per driver and per
/// BMC, time out and are retried when the failure is transient. Every piece of state lives on the injected
/// executor and every timer comes from the injected clock, so it runs unchanged on the simulator's virtual
/// clock; a node costs nothing while no call for it is pending.
/// </summary>
public sealed partial class PowerModule : IReconcileModule, IDisposable
{
    public const string UnknownToOff = "UKtoOFF";
    public const string OffToOn = "OFFtoON";
    public const string OnToOff = "ONtoOFF";
    public const string HangToOff = "HANGtoOFF";
    public const string HangToOn = "HANGtoON";

    private const string PhysUrl = "/PhysState";

    private readonly PowerOptions _options;
    private readonly ISerialExecutor _executor;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, DriverSlot> _drivers = new(StringComparer.Ordinal);
    private readonly Dictionary<NodeId, int> _active = [];
    private readonly PowerScheduler _scheduler;
    private readonly PowerMetrics _metrics;
    private IReconcileHost? _host;
    private IParentPolicy? _parentPolicy;
    private ITimer? _pollTimer;
    private bool _disposed;

    /// <param name="drivers">The drivers, by <see cref="IPowerDriver.Name"/>; names must be unique.</param>
    /// <param name="executor">Where the module runs: the engine's executor in the daemon, the node's in the simulator.</param>
    /// <param name="time">The clock for call timeouts, retries and polling.</param>
    /// <param name="options">Validated here.</param>
    /// <param name="logger">Where the module logs; none by default.</param>
    public PowerModule(IEnumerable<IPowerDriver> drivers, ISerialExecutor executor, TimeProvider time, PowerOptions? options = null, ILogger<PowerModule>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(drivers);
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(time);
        _options = options ?? new PowerOptions();
        _executor = executor;
        _time = time;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        var list = drivers.ToList();
        foreach (var driver in list)
        {
            if (string.IsNullOrWhiteSpace(driver.Name) || _drivers.ContainsKey(driver.Name))
            {
                throw new ArgumentException($"Power driver names must be unique and non-empty; '{driver.Name}' is not.", nameof(drivers));
            }

            _drivers.Add(driver.Name, new DriverSlot(driver, 0));
        }

        _options.Validate(_drivers.Keys);
        foreach (var driver in list)
        {
            _drivers[driver.Name] = new DriverSlot(driver, _options.LimitFor(driver.Name));
        }

        _scheduler = new PowerScheduler(_options.BmcConcurrency, StartCall, Dropped);
        _metrics = new PowerMetrics(_options.Meter, _drivers.Keys);
        Declaration = CreateDeclaration(_options);
    }

    public ModuleDeclaration Declaration { get; }

    /// <summary>The registered driver names, sorted.</summary>
    public IReadOnlyList<string> Drivers => [.. _drivers.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The declaration the module registers: PhysState discoverables and the five power mutations, all context Child, failing to PHYS_HANG.</summary>
    public static ModuleDeclaration CreateDeclaration(PowerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var hang = new UrlValue(PhysUrl, "PHYS_HANG");
        MutationDeclaration Step(string id, string from, string to, TimeSpan timeout) => new(id)
        {
            Mutates = [new MutatedUrl(PhysUrl, from, to)],
            Context = MutationContext.Child,
            Timeout = timeout,
            FailTo = hang,
        };

        return new ModuleDeclaration(options.ModuleName)
        {
            Discoverables = [new DiscoverableDeclaration(PhysUrl, ["POWER_OFF", "POWER_ON"])],
            Mutations =
            [
                Step(UnknownToOff, "PHYS_UNKNOWN", "POWER_OFF", options.StepTimeout),
                Step(OffToOn, "POWER_OFF", "POWER_ON", options.StepTimeout),
                Step(OnToOff, "POWER_ON", "POWER_OFF", options.StepTimeout),
                Step(HangToOff, "PHYS_HANG", "POWER_OFF", options.HangStepTimeout),
                Step(HangToOn, "PHYS_HANG", "POWER_ON", options.HangStepTimeout),
            ],
        };
    }

    /// <summary>What a mutation asks the driver to do; null for a mutation this module does not own.</summary>
    public static PowerAction? ActionFor(string mutationId) => mutationId switch
    {
        UnknownToOff => PowerAction.Status,
        OffToOn => PowerAction.On,
        OnToOff or HangToOff => PowerAction.Off,
        HangToOn => PowerAction.Cycle,
        _ => null,
    };

    public void Attach(IReconcileHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        _parentPolicy = _options.ParentPolicy ?? new ParentIdPolicy(host.Self);
        if (_options.PollInterval > TimeSpan.Zero)
        {
            _pollTimer = _executor.CreateTimer(_time, static s => ((PowerModule)s!).Poll(), this, _options.PollInterval, _options.PollInterval);
        }
    }

    public void OnMutationRequest(MutationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        _executor.Post(static s => { var (m, r) = ((PowerModule, MutationRequest))s!; m.BeginMutation(r); }, (this, request));
    }

    /// <summary>Calls in flight and queued per driver, and the most in flight at once so far. Call on the module's executor.</summary>
    public IReadOnlyList<PowerDriverLoad> Load() =>
    [
        .. _drivers.Values.OrderBy(d => d.Driver.Name, StringComparer.Ordinal)
            .Select(d => new PowerDriverLoad(d.Driver.Name, d.InFlight, d.Queued, d.Peak, d.Limit)),
    ];

    public void Dispose()
    {
        _disposed = true;
        _pollTimer?.Dispose();
        _pollTimer = null;
    }

    private void BeginMutation(MutationRequest request)
    {
        if (_disposed || request.Interrupted.IsCancellationRequested)
        {
            return;
        }

        var action = ActionFor(request.MutationId);
        var target = PowerTarget.FromRecord(request.Cfg);
        if (action is null || target is null)
        {
            _host?.ReportFailure(request, action is null
                ? $"The power module has no mutation '{request.MutationId}'."
                : $"Node {request.Cfg.Nodename ?? request.Node.ToString()} has no /Extensions/Power/Driver in its Cfg.");
            return;
        }

        Submit(new PowerOperation(target, action.Value, OperationOwner.Mutation, request, request.Interrupted)
        {
            CallTimeout = _options.CallTimeout,
            Retries = _options.Retries,
        });
    }

    private void FinishMutation(PowerOperation op)
    {
        var request = (MutationRequest)op.State!;
        if (op.Cancelled || request.Interrupted.IsCancellationRequested)
        {
            return;
        }

        if (op.Error is null && op.Status != PowerStatus.Unknown)
        {
            TryDiscover(op.Target.Node, op.Status);
            return;
        }

        var reason = op.Error is null ? "the power state reported is unknown" : op.Reason;
        _host?.ReportFailure(request, $"{request.MutationId}: {op.Action} via {op.Target.Driver} at {op.Target.BmcKey} failed after {op.Calls} call(s): {reason}");
    }

    private bool TryDiscover(NodeId node, PowerStatus status)
    {
        if (_host is null || status == PowerStatus.Unknown)
        {
            return false;
        }

        try
        {
            _host.Discover(node, _host.Store.Schema.PhysState, StateValue.FromEnum(status == PowerStatus.On ? PhysState.PowerOn : PhysState.PowerOff));
            return true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            // The node was deleted meanwhile, or its Dsc cannot take the value: nothing to report it to.
            PowerLog.DiscoverFailed(_logger, node, e.Message);
            return false;
        }
    }
}

/// <summary>One driver's load: calls in flight and queued, the most in flight at once so far, and its limit.</summary>
public sealed record PowerDriverLoad(string Driver, int InFlight, int Queued, int Peak, int Limit);
