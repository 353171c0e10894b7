// /metrics: every System.Diagnostics.Metrics instrument on a meter named Kraken.* in Prometheus text format.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kraken.Daemon.Metrics;

/// <summary>
/// Listens to every instrument whose meter name starts with <c>Kraken.</c> (so modules' meters appear without
/// daemon changes) and renders the running totals as Prometheus text exposition format 0.0.4. Names: the
/// instrument name with dots as underscores (already <c>kraken_...</c>), counters suffixed <c>_total</c>;
/// tags become labels. Counters and up-down counters are summed per label set; gauges keep the last value;
/// histograms export <c>_count</c> and <c>_sum</c> (a summary without quantiles).
/// Written here, not taken from a package: the text format is small and stable, and the OpenTelemetry
/// Prometheus exporter is still a pre-release package.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    public const string MeterPrefix = "Kraken.";
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Series> _series = new();
    private readonly Lock _collectLock = new();

    /// <param name="gauges">This daemon's gauges; null exports no daemon gauges (used for the format alone).</param>
    public PrometheusExporter(DaemonGauges? gauges)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // The daemon gauges of this daemon only (tests run several daemons in one process).
            var foreignGauges = instrument.Meter.Name == DaemonGauges.MeterName && !ReferenceEquals(instrument.Meter, gauges?.Meter);
            if (instrument.Meter.Name.StartsWith(MeterPrefix, StringComparison.Ordinal) && !foreignGauges)
            {
                _series.TryAdd(instrument, new Series(instrument));
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, _) => Record(i, v, tags));
        _listener.MeasurementsCompleted = (i, _) => _series.TryRemove(i, out Series? _);
        _listener.Start();
    }

    /// <summary>The current values as Prometheus text.</summary>
    public string Collect()
    {
        lock (_collectLock)
        {
            foreach (var s in _series.Values)
            {
                if (s.IsObservable)
                {
                    s.BeginObservation();
                }
            }

            _listener.RecordObservableInstruments();
            var sb = new StringBuilder();
            foreach (var group in _series.Values.GroupBy(s => s.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var first = group.First();
                sb.Append("# HELP ").Append(first.Name).Append(' ').Append(Escape(first.Help)).Append('\n');
                sb.Append("# TYPE ").Append(first.Name).Append(' ').Append(first.Type).Append('\n');
                var merged = new SortedDictionary<string, (double Value, double Sum, long Count)>(StringComparer.Ordinal);
                foreach (var s in group)
                {
                    s.CopyTo(merged);
                }

                foreach (var (labels, point) in merged)
                {
                    if (first.Type == "summary")
                    {
                        sb.Append(first.Name).Append("_sum").Append(labels).Append(' ').Append(Format(point.Sum)).Append('\n');
                        sb.Append(first.Name).Append("_count").Append(labels).Append(' ').Append(point.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                    }
                    else
                    {
                        sb.Append(first.Name).Append(labels).Append(' ').Append(Format(point.Value)).Append('\n');
                    }
                }
            }

            return sb.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>The Prometheus name of an instrument: lower case, [a-z0-9_], counters end in _total.</summary>
    public static string MetricName(Instrument instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        var name = Sanitize(instrument.Name);
        if (!name.StartsWith("kraken_", StringComparison.Ordinal))
        {
            name = "kraken_" + name;
        }

        return instrument is Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<double> && !name.EndsWith("_total", StringComparison.Ordinal)
            ? name + "_total"
            : name;
    }

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        if (_series.TryGetValue(instrument, out var s))
        {
            s.Record(Convert.ToDouble(value, CultureInfo.InvariantCulture), Labels(tags));
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return string.Empty;
        }

        var pairs = new List<(string, string)>(tags.Length);
        foreach (var t in tags)
        {
            pairs.Add((Sanitize(t.Key), Convert.ToString(t.Value, CultureInfo.InvariantCulture) ?? string.Empty));
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return "{" + string.Join(',', pairs.Select(p => $"{p.Item1}=\"{EscapeLabel(p.Item2)}\"")) + "}";
    }

    private static string Sanitize(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_');
        }

        return sb.ToString();
    }

    private static string Escape(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabel(string text) => Escape(text).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The aggregated points of one instrument, by label set.</summary>
    private sealed class Series(Instrument instrument)
    {
        private readonly Dictionary<string, (double Value, double Sum, long Count)> _points = new(StringComparer.Ordinal);

        public string Name { get; } = MetricName(instrument);

        public string Help { get; } = instrument.Description ?? instrument.Name;

        public bool IsObservable { get; } = instrument.IsObservable;

        public string Type { get; } = instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<double> => "counter",
            Histogram<long> or Histogram<int> or Histogram<double> => "summary",
            _ => "gauge",
        };

        private bool Cumulative => !IsObservable && Type != "summary";

        public void BeginObservation()
        {
            lock (_points)
            {
                // Observable instruments report current totals: a label set not reported any more is gone.
                _points.Clear();
            }
        }

        public void Record(double value, string labels)
        {
            lock (_points)
            {
                _points.TryGetValue(labels, out var p);
                _points[labels] = Type == "summary"
                    ? (0, p.Sum + value, p.Count + 1)
                    : Cumulative ? (p.Value + value, 0, 0) : (value, 0, 0);
            }
        }

        public void CopyTo(SortedDictionary<string, (double Value, double Sum, long Count)> merged)
        {
            lock (_points)
            {
                foreach (var (labels, p) in _points)
                {
                    merged.TryGetValue(labels, out var m);
                    merged[labels] = (m.Value + p.Value, m.Sum + p.Sum, m.Count + p.Count);
                }
            }
        }
    }
}

public static class PrometheusEndpoint
{
    public static IEndpointRouteBuilder MapPrometheus(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Collect(), PrometheusExporter.ContentType))
            .WithTags("ops").WithName("Metrics").WithSummary("Prometheus text format: every kraken_ metric of this daemon and its modules.");
        return app;
    }
}
