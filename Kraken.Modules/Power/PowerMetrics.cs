// Counters of the power module (System.Diagnostics.Metrics), exported by the daemon.
using System.Diagnostics.Metrics;

namespace Kraken.Modules.Power;

/// <summary>The power module's instruments; every one carries the tag <c>kraken.power.driver</c>.</summary>
public sealed class PowerMetrics
{
    public const string MeterName = "Kraken.Power";

    private static readonly Meter s_defaultMeter = new(MeterName);

    private readonly Counter<long> _calls;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _duration;

    public PowerMetrics(Meter? meter = null)
    {
        var m = meter ?? s_defaultMeter;
        _calls = m.CreateCounter<long>("kraken.power.calls", "{call}", "Driver calls made (retries included).");
        _failed = m.CreateCounter<long>("kraken.power.operations.failed", "{operation}", "Operations that failed after their retries.");
        _retries = m.CreateCounter<long>("kraken.power.retries", "{call}", "Calls repeated after a transient failure.");
        _duration = m.CreateHistogram<double>("kraken.power.operation.duration", "s", "Time from submission to the final result, queueing and retries included.");
    }

    internal void Call(string driver) => _calls.Add(1, new KeyValuePair<string, object?>("kraken.power.driver", driver));

    internal void Retry(string driver) => _retries.Add(1, new KeyValuePair<string, object?>("kraken.power.driver", driver));

    internal void Done(string driver, bool ok, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("kraken.power.driver", driver);
        if (!ok)
        {
            _failed.Add(1, tag);
        }

        _duration.Record(duration.TotalSeconds, tag);
    }
}
