// The running values of one instrument, by label set: the part of the exporter that runs on every recorded
// measurement, so it allocates only when a label set is seen for the first time.
using System.Diagnostics.Metrics;

namespace Kraken.Daemon.Metrics.Internal;

/// <summary>How a series aggregates what its instrument records.</summary>
internal enum SeriesKind
{
    /// <summary>A synchronous counter or up-down counter: measurements are added up.</summary>
    Sum,

    /// <summary>An observable instrument or a gauge: the last measurement is the value.</summary>
    Last,

    /// <summary>A histogram: count, sum and a count per bucket.</summary>
    Histogram,
}

/// <summary>
/// One instrument's points by label set. A measurement finds its point by a hash of its tags (independent of their
/// order) and an element-wise comparison, under a lock held for a few instructions; no string is built and nothing
/// is boxed on that path.
/// </summary>
internal sealed class MetricSeries
{
    /// <summary>Prometheus' default buckets, for a duration in seconds without advice of its own.</summary>
    private static readonly double[] s_secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>OpenTelemetry's default buckets, for any other histogram without advice.</summary>
    private static readonly double[] s_defaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly Lock _lock = new();
    private readonly Dictionary<int, MetricPoint> _points = [];
    private string? _header;

    public MetricSeries(Instrument instrument)
    {
        Instrument = instrument;
        Name = PrometheusNames.MetricName(instrument);
        Help = instrument.Description is { Length: > 0 } d ? d : instrument.Name;
        Type = PrometheusNames.TypeOf(instrument);
        Kind = Type == PrometheusNames.Histogram ? SeriesKind.Histogram
            : instrument.IsObservable || IsGauge(instrument) ? SeriesKind.Last
            : SeriesKind.Sum;
        if (Kind == SeriesKind.Histogram)
        {
            Bounds = AdvisedBounds(instrument) ?? (instrument.Unit == "s" ? s_secondsBuckets : s_defaultBuckets);
            LeLabels = [.. Bounds.Select(PrometheusTextWriter.Le), PrometheusTextWriter.Le(double.PositiveInfinity)];
        }
    }

    public Instrument Instrument { get; }

    /// <summary>The Prometheus metric name (without <c>_bucket</c>, <c>_sum</c>, <c>_count</c>).</summary>
    public string Name { get; }

    public string Help { get; }

    /// <summary>The family's <c># HELP</c> and <c># TYPE</c> lines.</summary>
    public string Header => _header ??= PrometheusTextWriter.Header(Name, Type, Help);

    /// <summary><c>counter</c>, <c>gauge</c> or <c>histogram</c>.</summary>
    public string Type { get; }

    public SeriesKind Kind { get; }

    /// <summary>Upper bounds of the buckets, ascending (histograms only; +Inf is implied).</summary>
    public double[] Bounds { get; } = [];

    /// <summary>The <c>le="..."</c> label of each bucket, +Inf last, written once.</summary>
    public string[] LeLabels { get; } = [];

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var hash = Hash(tags);
        lock (_lock)
        {
            var point = Find(hash, tags) ?? Add(hash, tags);
            switch (Kind)
            {
                case SeriesKind.Sum:
                    point.Value += value;
                    break;
                case SeriesKind.Last:
                    point.Value = value;
                    break;
                default:
                    point.Observe(value, Bounds);
                    break;
            }
        }
    }

    /// <summary>An observable instrument reports every label set it still has on each collection: forget the last.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _points.Clear();
        }
    }

    /// <summary>Adds this series' points to <paramref name="into"/>, by label text (several instruments may share a name).</summary>
    public void CopyTo(SortedDictionary<string, PointSnapshot> into)
    {
        lock (_lock)
        {
            foreach (var first in _points.Values)
            {
                for (var p = first; p is not null; p = p.Next)
                {
                    into[p.Labels] = into.TryGetValue(p.Labels, out var other) ? other.Merge(p) : PointSnapshot.Of(p);
                }
            }
        }
    }

    private static bool IsGauge(Instrument instrument) => instrument is Gauge<long> or Gauge<int> or Gauge<double> or Gauge<float>;

    private static double[]? AdvisedBounds(Instrument instrument) => instrument switch
    {
        Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
        Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<float> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        _ => null,
    };

    /// <summary>
    /// Independent of the tags' order: a sum over the values (an instrument records the same keys each time, so
    /// hashing them would cost without telling label sets apart; a collision is resolved by the comparison).
    /// </summary>
    private static int Hash(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var hash = tags.Length;
        foreach (var tag in tags)
        {
            hash += tag.Value?.GetHashCode() ?? 0;
        }

        return hash;
    }

    private MetricPoint? Find(int hash, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!_points.TryGetValue(hash, out var point))
        {
            return null;
        }

        for (; point is not null; point = point.Next)
        {
            if (point.Matches(tags))
            {
                return point;
            }
        }

        return null;
    }

    private MetricPoint Add(int hash, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var point = new MetricPoint(tags.ToArray(), PrometheusNames.Labels(tags), Kind == SeriesKind.Histogram ? Bounds.Length : 0);
        _points.TryGetValue(hash, out var next);
        point.Next = next;
        _points[hash] = point;
        return point;
    }
}

/// <summary>The value of one label set.</summary>
internal sealed class MetricPoint(KeyValuePair<string, object?>[] tags, string labels, int buckets)
{
    private readonly KeyValuePair<string, object?>[] _tags = tags;

    /// <summary>The labels as Prometheus writes them inside braces, sorted by name (<c>a="1",b="x"</c>); empty for none.</summary>
    public string Labels { get; } = labels;

    /// <summary>The next point whose tags have the same hash.</summary>
    public MetricPoint? Next { get; set; }

    /// <summary>A counter's total or a gauge's value.</summary>
    public double Value { get; set; }

    public double Sum { get; private set; }

    public long Count { get; private set; }

    /// <summary>Measurements per bucket (not cumulative); the last slot is above every bound.</summary>
    public long[] Buckets { get; } = new long[buckets + 1];

    public void Observe(double value, double[] bounds)
    {
        var i = 0;
        while (i < bounds.Length && value > bounds[i])
        {
            i++;
        }

        Buckets[i]++;
        Sum += value;
        Count++;
    }

    public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length != _tags.Length)
        {
            return false;
        }

        // Callers pass the same key and value instances (literals, cached names) each time: a reference
        // comparison settles most checks before a string comparison.
        foreach (var tag in tags)
        {
            var found = false;
            foreach (var mine in _tags)
            {
                if (ReferenceEquals(mine.Key, tag.Key) || string.Equals(mine.Key, tag.Key, StringComparison.Ordinal))
                {
                    found = ReferenceEquals(mine.Value, tag.Value) || Equals(mine.Value, tag.Value);
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A copy of a point taken under its series' lock, for writing.</summary>
internal readonly record struct PointSnapshot(double Value, double Sum, long Count, long[] Buckets)
{
    public static PointSnapshot Of(MetricPoint p) => new(p.Value, p.Sum, p.Count, (long[])p.Buckets.Clone());

    /// <summary>Two instruments of one name and label set (two meters of the same library) add up.</summary>
    public PointSnapshot Merge(MetricPoint p)
    {
        var buckets = (long[])Buckets.Clone();
        for (var i = 0; i < buckets.Length && i < p.Buckets.Length; i++)
        {
            buckets[i] += p.Buckets[i];
        }

        return new(Value + p.Value, Sum + p.Sum, Count + p.Count, buckets);
    }
}
