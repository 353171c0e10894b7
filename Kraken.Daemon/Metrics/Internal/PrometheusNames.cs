// How an instrument's name, unit, kind and tags become a Prometheus metric name, type and labels (docs/daemon.md).
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Kraken.Daemon.Metrics.Internal;

internal static class PrometheusNames
{
    public const string Counter = "counter";
    public const string Gauge = "gauge";
    public const string Histogram = "histogram";

    /// <summary>
    /// The instrument's name in lower case, every character outside <c>[a-z0-9_:]</c> as <c>_</c>; <c>kraken_</c> in front for
    /// a <c>Kraken.*</c> meter's instrument that lacks it; the unit as a suffix (<c>s</c>: <c>_seconds</c>,
    /// <c>ms</c>: <c>_milliseconds</c>, <c>By</c>: <c>_bytes</c>; annotations such as <c>{packet}</c> add nothing)
    /// unless the name ends with it; <c>_total</c> last on a counter.
    /// </summary>
    public static string MetricName(Instrument instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        if (RuntimeOverride(instrument) is { } runtime)
        {
            return runtime.Name;
        }

        var name = Sanitize(instrument.Name, colon: true);
        if (instrument.Meter.Name.StartsWith(PrometheusExporter.MeterPrefix, StringComparison.Ordinal) && !name.StartsWith("kraken_", StringComparison.Ordinal))
        {
            name = "kraken_" + name;
        }

        if (UnitSuffix(instrument.Unit) is { } unit && !name.EndsWith(unit, StringComparison.Ordinal))
        {
            name += unit;
        }

        return TypeOf(instrument) == Counter && !name.EndsWith("_total", StringComparison.Ordinal) ? name + "_total" : name;
    }

    /// <summary>Counters (monotonic, synchronous or observable) are counters; histograms histograms; everything else a gauge.</summary>
    public static string TypeOf(Instrument instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        if (RuntimeOverride(instrument) is { } runtime)
        {
            return runtime.Type;
        }

        var type = instrument.GetType();
        var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        return definition == typeof(Counter<>) || definition == typeof(ObservableCounter<>) ? Counter
            : definition == typeof(Histogram<>) ? Histogram
            : Gauge;
    }

    /// <summary>The labels of a tag set, sorted by name, as written inside braces: <c>a="1",b="x \"y\""</c>.</summary>
    public static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return string.Empty;
        }

        var pairs = new (string Name, string Value)[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            pairs[i] = (Sanitize(tags[i].Key, colon: false), Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? string.Empty);
        }

        Array.Sort(pairs, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var sb = new StringBuilder();
        foreach (var (name, value) in pairs)
        {
            sb.Append(sb.Length == 0 ? "" : ",").Append(name).Append("=\"").Append(EscapeLabelValue(value)).Append('"');
        }

        return sb.ToString();
    }

    /// <summary>A HELP text: backslash and line feed escaped.</summary>
    public static string EscapeHelp(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>A label value: backslash, double quote and line feed escaped.</summary>
    public static string EscapeLabelValue(string text) => EscapeHelp(text).Replace("\"", "\\\"", StringComparison.Ordinal);

    /// <summary>
    /// The runtime's instruments whose name or kind would break Prometheus' conventions: counts of what exists now
    /// (.NET declares the thread pool's as observable counters, though they go down) are gauges, and a gauge may not
    /// end in <c>_count</c>, which Prometheus keeps for histograms.
    /// </summary>
    private static (string Name, string Type)? RuntimeOverride(Instrument instrument) =>
        instrument.Meter.Name != PrometheusExporter.RuntimeMeter ? null : instrument.Name switch
        {
            "dotnet.thread_pool.thread.count" => ("dotnet_thread_pool_threads", Gauge),
            "dotnet.thread_pool.queue.length" => ("dotnet_thread_pool_queue_length", Gauge),
            "dotnet.assembly.count" => ("dotnet_assemblies_loaded", Gauge),
            "dotnet.timer.count" => ("dotnet_timers", Gauge),
            "dotnet.process.cpu.count" => ("dotnet_process_cpus", Gauge),
            _ => null,
        };

    private static string? UnitSuffix(string? unit) => unit switch
    {
        "s" => "_seconds",
        "ms" => "_milliseconds",
        "By" => "_bytes",
        _ => null,
    };

    private static string Sanitize(string name, bool colon)
    {
        var sb = new StringBuilder(name.Length + 1);
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            sb.Append('_');
        }

        foreach (var c in name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : c == '_' || (colon && c == ':') ? c : '_');
        }

        return sb.ToString();
    }
}
