// Engine-wide counters, through System.Diagnostics.Metrics and as a snapshot for the API and tests.
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Kraken.Tree.Reconcile;

/// <summary>A point-in-time copy of one engine's counters.</summary>
public sealed record ReconcileCounters(
    long PlansComputed,
    long PlanCacheHits,
    long Unreachable,
    long Replans,
    long Dispatched,
    long Confirmed,
    long TimedOut,
    long Failed,
    long Interrupted,
    long GaveUp);

/// <summary>
/// The engine's instruments on the meter <see cref="MeterName"/>. Mutation counters and the step duration carry the
/// tag <c>module</c>; every counter is at zero (for each module) from the engine's creation on. Several engines may
/// share a meter; their counts add up there, while each engine's own counts are in <see cref="ReconcileEngine.Counters"/>.
/// </summary>
public sealed class ReconcileMetrics
{
    public const string MeterName = "Kraken.Reconcile";
    public const string ModuleTag = "module";

    /// <summary>The <c>result</c> tag of <c>kraken.reconcile.step.duration</c>.</summary>
    private static readonly string[] s_results = ["confirmed", "failed", "timed_out"];

    private static readonly Meter s_defaultMeter = new(MeterName);
    private static readonly ConditionalWeakTable<Meter, Instruments> s_instruments = [];

    private readonly Instruments _i;
    private long _plansComputed;
    private long _cacheHits;
    private long _unreachable;
    private long _replans;
    private long _dispatched;
    private long _confirmed;
    private long _timedOut;
    private long _failed;
    private long _interrupted;
    private long _gaveUp;

    internal ReconcileMetrics(Meter? meter, IEnumerable<string> modules)
    {
        _i = s_instruments.GetValue(meter ?? s_defaultMeter, static m => new Instruments(m));
        if (!_i.Dispatched.Enabled)
        {
            return;
        }

        foreach (var counter in (ReadOnlySpan<Counter<long>>)[_i.PlansComputed, _i.CacheHits, _i.Unreachable, _i.Replans, _i.GaveUp])
        {
            counter.Add(0);
        }

        foreach (var module in modules)
        {
            var tag = new KeyValuePair<string, object?>(ModuleTag, module);
            foreach (var counter in (ReadOnlySpan<Counter<long>>)[_i.Dispatched, _i.Confirmed, _i.TimedOut, _i.Failed, _i.Interrupted])
            {
                counter.Add(0, tag);
            }
        }
    }

    public ReconcileCounters Snapshot() => new(
        Volatile.Read(ref _plansComputed),
        Volatile.Read(ref _cacheHits),
        Volatile.Read(ref _unreachable),
        Volatile.Read(ref _replans),
        Volatile.Read(ref _dispatched),
        Volatile.Read(ref _confirmed),
        Volatile.Read(ref _timedOut),
        Volatile.Read(ref _failed),
        Volatile.Read(ref _interrupted),
        Volatile.Read(ref _gaveUp));

    internal void Planned(bool cached)
    {
        if (cached)
        {
            Interlocked.Increment(ref _cacheHits);
            _i.CacheHits.Add(1);
        }
        else
        {
            Interlocked.Increment(ref _plansComputed);
            _i.PlansComputed.Add(1);
        }
    }

    internal void Unreachable()
    {
        Interlocked.Increment(ref _unreachable);
        _i.Unreachable.Add(1);
    }

    internal void Replanned()
    {
        Interlocked.Increment(ref _replans);
        _i.Replans.Add(1);
    }

    internal void Dispatched(string module) => Count(ref _dispatched, _i.Dispatched, module);

    /// <summary>A step confirmed by Dsc, <paramref name="elapsed"/> after it started.</summary>
    internal void Confirmed(string module, TimeSpan elapsed)
    {
        Count(ref _confirmed, _i.Confirmed, module);
        Took(module, elapsed, 0);
    }

    /// <summary>A step that failed (timed out or reported failed), <paramref name="elapsed"/> after it started.</summary>
    internal void Failed(string module, TimeSpan elapsed, bool timedOut)
    {
        if (timedOut)
        {
            Count(ref _timedOut, _i.TimedOut, module);
        }

        Count(ref _failed, _i.Failed, module);
        Took(module, elapsed, timedOut ? 2 : 1);
    }

    internal void Interrupted(string module) => Count(ref _interrupted, _i.Interrupted, module);

    internal void GaveUp()
    {
        Interlocked.Increment(ref _gaveUp);
        _i.GaveUp.Add(1);
    }

    private void Took(string module, TimeSpan elapsed, int result)
    {
        if (_i.StepDuration.Enabled)
        {
            _i.StepDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>(ModuleTag, module), new KeyValuePair<string, object?>("result", s_results[result]));
        }
    }

    private static void Count(ref long local, Counter<long> counter, string module)
    {
        Interlocked.Increment(ref local);
        if (counter.Enabled)
        {
            counter.Add(1, new KeyValuePair<string, object?>(ModuleTag, module));
        }
    }

    private sealed class Instruments(Meter meter)
    {
        public Counter<long> PlansComputed { get; } = meter.CreateCounter<long>("kraken.reconcile.plans.computed", "{plan}", "Path searches run (plan cache misses).");

        public Counter<long> CacheHits { get; } = meter.CreateCounter<long>("kraken.reconcile.plans.reused", "{plan}", "Plans served from the plan cache.");

        public Counter<long> Unreachable { get; } = meter.CreateCounter<long>("kraken.reconcile.nodes.unreachable", "{node}", "Nodes found with no path to their goal.");

        public Counter<long> Replans { get; } = meter.CreateCounter<long>("kraken.reconcile.plans.replaced", "{plan}", "Paths replaced mid-way (Cfg changed or Dsc changed unexpectedly).");

        public Counter<long> Dispatched { get; } = meter.CreateCounter<long>("kraken.reconcile.mutations.dispatched", "{mutation}", "Mutation requests sent to modules.");

        public Counter<long> Confirmed { get; } = meter.CreateCounter<long>("kraken.reconcile.mutations.confirmed", "{mutation}", "Steps confirmed by Dsc.");

        public Counter<long> TimedOut { get; } = meter.CreateCounter<long>("kraken.reconcile.mutations.timed_out", "{mutation}", "Steps that reached their timeout.");

        public Counter<long> Failed { get; } = meter.CreateCounter<long>("kraken.reconcile.mutations.failed", "{mutation}", "Steps that failed: timed out or reported failed by their module.");

        public Counter<long> Interrupted { get; } = meter.CreateCounter<long>("kraken.reconcile.mutations.interrupted", "{mutation}", "Dispatched steps abandoned (re-plan, failure, deletion, freeze).");

        public Counter<long> GaveUp { get; } = meter.CreateCounter<long>("kraken.reconcile.nodes.given_up", "{node}", "Nodes given up after too many failed steps.");

        public Histogram<double> StepDuration { get; } = meter.CreateHistogram(
            "kraken.reconcile.step.duration",
            "s",
            "Time from a step's start to its confirmation by Dsc or its failure, by module and result (confirmed, failed, timed_out).",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800] });
    }
}
