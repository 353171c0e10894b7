// Settings of the power module, validated when the module is created.
using System.Diagnostics.Metrics;
using Kraken.Tree.Reconcile;

namespace Kraken.Modules.Power;

public sealed class PowerOptions
{
    /// <summary>The module name the engine knows it by (and <c>ReconcileOptions.ModuleConcurrency</c> keys on).</summary>
    public string ModuleName { get; set; } = "power";

    /// <summary>How long the engine waits for a power step (UKtoOFF, OFFtoON, ONtoOFF) before failing it to PHYS_HANG.</summary>
    public TimeSpan StepTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the engine waits for a step out of PHYS_HANG (HANGtoOFF, HANGtoON).</summary>
    public TimeSpan HangStepTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>How often every node this daemon powers is asked for its state; zero turns polling off.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest one driver call may take (a driver may retry packets inside it).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Further calls after a transient failure (timeout, unreachable, bad reply); wrong settings or passwords are not retried.</summary>
    public int Retries { get; set; } = 2;

    /// <summary>The wait before a retry.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Calls one driver may have in flight at once, unless <see cref="DriverConcurrency"/> says otherwise; the rest queue.</summary>
    public int DefaultDriverConcurrency { get; set; } = 64;

    /// <summary>Per-driver in-flight limits, by driver name.</summary>
    public IDictionary<string, int> DriverConcurrency { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>Calls one BMC (address and port) may have in flight at once; most BMCs handle one session well.</summary>
    public int BmcConcurrency { get; set; } = 1;

    /// <summary>Which nodes this daemon powers (polls); default: nodes whose Cfg <c>/ParentId</c> is this daemon.</summary>
    public IParentPolicy? ParentPolicy { get; set; }

    /// <summary>The meter for the module's counters; default a process-wide meter named <see cref="PowerMetrics.MeterName"/>.</summary>
    public Meter? Meter { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate(IEnumerable<string> driverNames)
    {
        ArgumentNullException.ThrowIfNull(driverNames);
        Check(!string.IsNullOrWhiteSpace(ModuleName), nameof(ModuleName), ModuleName, "a non-empty name");
        Check(CallTimeout > TimeSpan.Zero, nameof(CallTimeout), CallTimeout, "more than zero");
        Check(StepTimeout >= CallTimeout, nameof(StepTimeout), StepTimeout, $"at least {nameof(CallTimeout)} ({CallTimeout})");
        Check(HangStepTimeout >= CallTimeout, nameof(HangStepTimeout), HangStepTimeout, $"at least {nameof(CallTimeout)} ({CallTimeout})");
        Check(PollInterval >= TimeSpan.Zero, nameof(PollInterval), PollInterval, "zero (off) or more");
        Check(Retries is >= 0 and <= 100, nameof(Retries), Retries, "between 0 and 100");
        Check(RetryDelay >= TimeSpan.Zero, nameof(RetryDelay), RetryDelay, "zero or more");
        Check(DefaultDriverConcurrency >= 1, nameof(DefaultDriverConcurrency), DefaultDriverConcurrency, "at least 1");
        Check(BmcConcurrency >= 1, nameof(BmcConcurrency), BmcConcurrency, "at least 1");
        var known = driverNames.ToHashSet(StringComparer.Ordinal);
        foreach (var (driver, limit) in DriverConcurrency)
        {
            if (!known.Contains(driver))
            {
                throw new ArgumentException($"PowerOptions.{nameof(DriverConcurrency)}[{driver}]: no driver named '{driver}' is registered; registered: {string.Join(", ", known.Order(StringComparer.Ordinal))}.");
            }

            Check(limit >= 1, $"{nameof(DriverConcurrency)}[{driver}]", limit, "at least 1");
        }
    }

    internal int LimitFor(string driver) => DriverConcurrency.TryGetValue(driver, out var l) ? l : DefaultDriverConcurrency;

    private static void Check(bool ok, string name, object value, string expected)
    {
        if (!ok)
        {
            throw new ArgumentException($"PowerOptions.{name} must be {expected} (was {value}).");
        }
    }
}

/// <summary>Per-run overrides for <see cref="PowerModule.RunBulkAsync(IEnumerable{Kraken.Tree.State.NodeId}, PowerAction, BulkPowerOptions?, CancellationToken)"/>.</summary>
public sealed record BulkPowerOptions
{
    /// <summary>Overrides <see cref="PowerOptions.CallTimeout"/> for this run.</summary>
    public TimeSpan? CallTimeout { get; init; }

    /// <summary>Overrides <see cref="PowerOptions.Retries"/> for this run.</summary>
    public int? Retries { get; init; }

    /// <summary>Write what the run learns (POWER_ON / POWER_OFF) to the nodes' Dsc; default true.</summary>
    public bool ReportDiscoveries { get; init; } = true;
}
