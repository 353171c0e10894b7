// The Prometheus text the exporter writes for each kind of instrument: names, types, labels, escaping.
using System.Diagnostics.Metrics;
using Kraken.Daemon.Metrics;

namespace Kraken.Daemon.Tests.Metrics;

public sealed class PrometheusFormatTests
{
    [Fact]
    public void Each_instrument_kind_is_written_with_its_type_and_labels()
    {
        var meterName = $"Kraken.FormatTest{Guid.NewGuid():N}";
        using var exporter = new PrometheusExporter(null);
        using var meter = new Meter(meterName);
        var prefix = "kraken_" + meterName[7..].ToLowerInvariant();
        var counter = meter.CreateCounter<long>($"{meterName}.requests", description: "Requests.\nSecond line.");
        var upDown = meter.CreateUpDownCounter<int>($"{meterName}.inflight");
        var histogram = meter.CreateHistogram<double>($"{meterName}.latency");
        var level = 7;
        meter.CreateObservableGauge($"{meterName}.level", () => level);

        counter.Add(2, new KeyValuePair<string, object?>("path", "a\"b"), new KeyValuePair<string, object?>("code", 200));
        counter.Add(3, new KeyValuePair<string, object?>("code", 200), new KeyValuePair<string, object?>("path", "a\"b"));
        upDown.Add(5);
        upDown.Add(-2);
        histogram.Record(0.5);
        histogram.Record(1.5);

        var lines = exporter.Collect().Split('\n');
        Assert.Contains($"# TYPE {prefix}_requests_total counter", lines);
        Assert.Contains($"# HELP {prefix}_requests_total Requests.\\nSecond line.", lines);
        Assert.Contains($"{prefix}_requests_total{{code=\"200\",path=\"a\\\"b\"}} 5", lines);
        Assert.Contains($"# TYPE {prefix}_inflight gauge", lines);
        Assert.Contains($"{prefix}_inflight 3", lines);
        Assert.Contains($"# TYPE {prefix}_latency summary", lines);
        Assert.Contains($"{prefix}_latency_sum 2", lines);
        Assert.Contains($"{prefix}_latency_count 2", lines);
        Assert.Contains($"{prefix}_level 7", lines);

        level = 9;
        Assert.Contains($"{prefix}_level 9", exporter.Collect().Split('\n'));
    }
}
