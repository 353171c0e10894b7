// Counters of the power module (System.Diagnostics.Metrics), exported by the daemon.
using System.Diagnostics.Metrics;

namespace Kraken.Modules.Power;

/// <summary>
/// The power module's instruments; every one carries the tag <c>driver</c>, and each counter is at zero for every
/// loaded driver from the module's creation on.
/// </summary>
public sealed class PowerMetrics
{
    public const string MeterName = "Kraken.Power";

    private static readonly Meter s_defaultMeter = new(MeterName);

    private readonly Counter<long> _calls;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _duration;

    /// <param name="meter">The meter; default a process-wide one named <see cref="MeterName"/>.</param>
    /// <param name="drivers">The loaded drivers, whose counters start at zero.</param>
    public PowerMetrics(Meter? meter = null, IEnumerable<string>? drivers = null)
    {
        var m = meter ?? s_defaultMeter;
        _calls = m.CreateCounter<long>("kraken.power.calls", "{call}", "Driver calls made (retries included).");
        _failed = m.CreateCounter<long>("kraken.power.operations.failed", "{operation}", "Operations that failed after their retries.");
        _retries = m.CreateCounter<long>("kraken.power.calls.retried", "{call}", "Calls repeated after a transient failure.");
        _duration = m.CreateHistogram(
            "kraken.power.operation.duration",
            "s",
            "Time from submission to the final result, queueing and retries included.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] });
        foreach (var driver in drivers ?? [])
        {
            var tag = Tag(driver);
            _calls.Add(0, tag);
            _failed.Add(0, tag);
            _retries.Add(0, tag);
        }
    }

    internal void Call(string driver) => _calls.Add(1, Tag(driver));

    internal void Retry(string driver) => _retries.Add(1, Tag(driver));

    internal void Done(string driver, bool ok, TimeSpan duration)
    {
        var tag = Tag(driver);
        if (!ok)
        {
            _failed.Add(1, tag);
        }

        _duration.Record(duration.TotalSeconds, tag);
    }

    private static KeyValuePair<string, object?> Tag(string driver) => new("driver", driver);
}
