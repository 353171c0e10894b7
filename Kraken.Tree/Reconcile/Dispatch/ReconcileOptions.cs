// Settings of the reconcile engine, validated when the engine is created.
using System.Diagnostics.Metrics;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>Decides whether this daemon is the responsible parent of a node (context <see cref="MutationContext.Child"/>).</summary>
public interface IParentPolicy
{
    /// <summary>True when this daemon performs the node's Child-context mutations.</summary>
    bool IsResponsibleParent(NodeRecord cfg);
}

/// <summary>The default rule: this daemon is the node's parent when the node's Cfg <c>/ParentId</c> names it.</summary>
public sealed class ParentIdPolicy(NodeId self) : IParentPolicy
{
    public bool IsResponsibleParent(NodeRecord cfg) => cfg?.ParentId == self;
}

public sealed class ReconcileOptions
{
    /// <summary>Requests a module may have in flight at once, unless <see cref="ModuleConcurrency"/> says otherwise; the rest queue.</summary>
    public int DefaultModuleConcurrency { get; set; } = 1024;

    /// <summary>Per-module in-flight limits, by module name.</summary>
    public IDictionary<string, int> ModuleConcurrency { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>Failed steps (timeouts or reported failures) allowed while pursuing one goal before the node is given up.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>The wait before re-planning after the first failure; doubled after each further one.</summary>
    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait before re-planning after a failure.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Start frozen: nothing is dispatched until <see cref="ReconcileEngine.Thaw"/>.</summary>
    public bool StartFrozen { get; set; }

    /// <summary>Who is a node's responsible parent; default <see cref="ParentIdPolicy"/> with the engine's self.</summary>
    public IParentPolicy? ParentPolicy { get; set; }

    /// <summary>The meter for the engine's counters; default a process-wide meter named <see cref="ReconcileMetrics.MeterName"/>.</summary>
    public Meter? Meter { get; set; }

    /// <summary>
    /// Called on the engine's executor for every dispatched, confirmed, failed, timed-out or interrupted step.
    /// It must only queue (the daemon's event stream writes to a channel); it must not call back into the engine.
    /// </summary>
    public Action<MutationEvent>? MutationObserver { get; set; }

    /// <summary>
    /// How long after the engine first runs unfrozen (a daemon's start; a child's first join) it leaves alone the
    /// nodes <see cref="HoldDuringGrace"/> picks and it has not acted on yet, unless they report first. Zero: no grace.
    /// </summary>
    public TimeSpan RestartGrace { get; set; }

    /// <summary>
    /// Given a node's Cfg and Dsc, true for a node that may be alive and about to report (<c>ModuleSet</c>: powered on,
    /// RunState not known), which the engine holds during <see cref="RestartGrace"/>. Null: none.
    /// </summary>
    public Func<NodeRecord, NodeRecord, bool>? HoldDuringGrace { get; set; }

    /// <summary>Distinct plans kept in the cache before it is cleared.</summary>
    public int PlanCacheCapacity { get; set; } = 4096;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate(IEnumerable<string> moduleNames)
    {
        ArgumentNullException.ThrowIfNull(moduleNames);
        Check(DefaultModuleConcurrency >= 1, nameof(DefaultModuleConcurrency), DefaultModuleConcurrency, "at least 1");
        Check(MaxAttempts >= 1, nameof(MaxAttempts), MaxAttempts, "at least 1");
        Check(BackoffBase >= TimeSpan.Zero, nameof(BackoffBase), BackoffBase, "zero or more");
        Check(BackoffMax >= BackoffBase, nameof(BackoffMax), BackoffMax, $"at least {nameof(BackoffBase)} ({BackoffBase})");
        Check(RestartGrace >= TimeSpan.Zero, nameof(RestartGrace), RestartGrace, "zero or more");
        Check(PlanCacheCapacity >= 1, nameof(PlanCacheCapacity), PlanCacheCapacity, "at least 1");
        var known = moduleNames.ToHashSet(StringComparer.Ordinal);
        foreach (var (module, limit) in ModuleConcurrency)
        {
            if (!known.Contains(module))
            {
                throw new ArgumentException($"ReconcileOptions.{nameof(ModuleConcurrency)}[{module}]: no module named '{module}' is registered; registered: {string.Join(", ", known.Order(StringComparer.Ordinal))}.");
            }

            Check(limit >= 1, $"{nameof(ModuleConcurrency)}[{module}]", limit, "at least 1");
        }
    }

    internal TimeSpan Backoff(int attempts)
    {
        var ticks = BackoffBase.Ticks;
        for (var i = 1; i < attempts && ticks < BackoffMax.Ticks; i++)
        {
            ticks *= 2;
        }

        return TimeSpan.FromTicks(Math.Min(ticks, BackoffMax.Ticks));
    }

    private static void Check(bool ok, string name, object value, string expected)
    {
        if (!ok)
        {
            throw new ArgumentException($"ReconcileOptions.{name} must be {expected} (was {value}).");
        }
    }
}
