// /metrics: the daemon's System.Diagnostics.Metrics instruments, the .NET runtime's and the process's, in Prometheus text.
using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Kraken.Daemon.Metrics.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kraken.Daemon.Metrics;

/// <summary>
/// Listens to every instrument of a meter named <c>Kraken.*</c> (so a module's meter appears without daemon
/// changes), of the runtime's <c>System.Runtime</c> meter, and of ASP.NET Core's hosting meter created for this
/// daemon, and writes them as Prometheus text exposition format 0.0.4 with the process series and
/// <c>kraken_build_info</c>. Naming: <see cref="PrometheusNames.MetricName"/> (docs/daemon.md, "Metrics").
/// Counters and up-down counters are summed per label set, gauges and observable instruments keep the last value,
/// histograms keep a count per bucket (the instrument's advised bounds, else Prometheus' defaults for seconds).
/// Recording a measurement allocates nothing once its label set has been seen (bench/Kraken.Metrics.Bench); the
/// choice of this exporter over OpenTelemetry's is measured in docs/performance.md.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    public const string MeterPrefix = "Kraken.";

    /// <summary>The runtime's meter (GC, thread pool, JIT, exceptions; .NET 9 and later).</summary>
    public const string RuntimeMeter = "System.Runtime";

    /// <summary>ASP.NET Core's request meter (<c>http.server.request.duration</c>), taken only from this daemon's meter factory.</summary>
    public const string HostingMeter = "Microsoft.AspNetCore.Hosting";

    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, MetricSeries> _series = new();
    private readonly Lock _collectLock = new();
    private readonly IMeterFactory? _meterFactory;
    private readonly ProcessSeries? _process;
    private MetricSeries[][] _families = [];
    private int _version;
    private int _familiesVersion = -1;

    /// <param name="meterFactory">
    /// The daemon's meter factory: ASP.NET Core's meters from it are exported, those of other hosts in the same
    /// process (tests run several daemons) are not. Null exports no ASP.NET Core meter.
    /// </param>
    /// <param name="processSeries">
    /// False leaves out the process_* series and kraken_build_info (for a host that exports its process another
    /// way). Reading them is most of a scrape's cost: <c>process_open_fds</c> lists <c>/proc/self/fd</c>.
    /// </param>
    public PrometheusExporter(IMeterFactory? meterFactory = null, bool processSeries = true)
    {
        _meterFactory = meterFactory;
        _process = processSeries ? new ProcessSeries() : null;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (Exports(instrument.Meter))
            {
                var series = _series.GetOrAdd(instrument, static i => new MetricSeries(i));
                Interlocked.Increment(ref _version);
                listener.EnableMeasurementEvents(instrument, series);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((MetricSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((MetricSeries)state!).Record(value, tags));
        _listener.MeasurementsCompleted = (instrument, _) =>
        {
            _series.TryRemove(instrument, out MetricSeries? _);
            Interlocked.Increment(ref _version);
        };
        _listener.Start();
    }

    /// <summary>Writes every series, sorted by metric name, as Prometheus text.</summary>
    public void Collect(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var writer = new PrometheusTextWriter(output);
        lock (_collectLock)
        {
            foreach (var s in _series.Values)
            {
                if (s.Instrument.IsObservable)
                {
                    s.Clear();
                }
            }

            _listener.RecordObservableInstruments();
            foreach (var family in Families())
            {
                var first = family[0];
                var points = new SortedDictionary<string, PointSnapshot>(StringComparer.Ordinal);
                foreach (var s in family)
                {
                    if (s.Type == first.Type)
                    {
                        s.CopyTo(points);
                    }
                }

                writer.Raw(first.Header);
                foreach (var (labels, point) in points)
                {
                    if (first.Kind != SeriesKind.Histogram)
                    {
                        writer.Sample(first.Name, labels, point.Value);
                        continue;
                    }

                    long cumulative = 0;
                    for (var i = 0; i < first.Bounds.Length; i++)
                    {
                        cumulative += point.Buckets[i];
                        writer.Sample(first.Name, "_bucket", labels, first.LeLabels[i], cumulative);
                    }

                    writer.Sample(first.Name, "_bucket", labels, first.LeLabels[^1], point.Count);
                    writer.Sample(first.Name, "_sum", labels, null, point.Sum);
                    writer.Sample(first.Name, "_count", labels, null, point.Count);
                }
            }

            _process?.Write(writer);
        }
    }

    /// <summary>The current values as Prometheus text.</summary>
    public string Collect()
    {
        var buffer = new ArrayBufferWriter<byte>(16 << 10);
        Collect(buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>The series grouped by metric name and sorted, rebuilt only when an instrument came or went.</summary>
    private MetricSeries[][] Families()
    {
        var version = Volatile.Read(ref _version);
        if (version != _familiesVersion)
        {
            _families = [.. _series.Values.GroupBy(s => s.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.ToArray())];
            _familiesVersion = version;
        }

        return _families;
    }

    /// <summary>
    /// Kraken's meters, but one scoped to another exporter (a daemon's own gauges, when a process runs several
    /// daemons); the runtime's; ASP.NET Core's hosting meter of this daemon's host.
    /// </summary>
    private bool Exports(Meter meter) =>
        meter.Name.StartsWith(MeterPrefix, StringComparison.Ordinal) ? meter.Scope is not PrometheusExporter other || ReferenceEquals(other, this)
        : meter.Name == RuntimeMeter || (meter.Name == HostingMeter && _meterFactory is not null && ReferenceEquals(meter.Scope, _meterFactory));
}

public static class PrometheusEndpoint
{
    public static IEndpointRouteBuilder MapPrometheus(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", async (HttpContext context, PrometheusExporter exporter) =>
            {
                context.Response.ContentType = PrometheusExporter.ContentType;
                exporter.Collect(context.Response.BodyWriter);
                await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            })
            .WithTags("ops").WithName("Metrics").WithSummary("Prometheus text format: the daemon's kraken_ series, its modules', the .NET runtime's and the process's.");
        return app;
    }
}
