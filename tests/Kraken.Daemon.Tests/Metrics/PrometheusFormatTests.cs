// The Prometheus text the exporter writes for each kind of instrument: names, types, labels, buckets, escaping.
using System.Diagnostics.Metrics;
using Kraken.Daemon.Metrics;

namespace Kraken.Daemon.Tests.Metrics;

public sealed class PrometheusFormatTests
{
    [Fact]
    public void Each_instrument_kind_is_written_with_its_type_and_labels()
    {
        var meterName = $"Kraken.FormatTest{Guid.NewGuid():N}";
        using var exporter = new PrometheusExporter();
        using var meter = new Meter(meterName);
        var prefix = "kraken_" + meterName[7..].ToLowerInvariant();
        var counter = meter.CreateCounter<long>($"{meterName}.requests", description: "Requests.\nSecond line.");
        var upDown = meter.CreateUpDownCounter<int>($"{meterName}.inflight");
        var level = 7;
        meter.CreateObservableGauge($"{meterName}.level", () => level);
        var sent = meter.CreateCounter<long>($"{meterName}.sent", "By");

        counter.Add(2, new KeyValuePair<string, object?>("path", "a\"b"), new KeyValuePair<string, object?>("code", 200));
        counter.Add(3, new KeyValuePair<string, object?>("code", 200), new KeyValuePair<string, object?>("path", "a\"b"));
        counter.Add(1, new KeyValuePair<string, object?>("code", 404), new KeyValuePair<string, object?>("path", "a\"b"));
        upDown.Add(5);
        upDown.Add(-2);
        sent.Add(0);

        var lines = exporter.Collect().Split('\n');
        Assert.Contains($"# TYPE {prefix}_requests_total counter", lines);
        Assert.Contains($"# HELP {prefix}_requests_total Requests.\\nSecond line.", lines);
        Assert.Contains($"{prefix}_requests_total{{code=\"200\",path=\"a\\\"b\"}} 5", lines);
        Assert.Contains($"{prefix}_requests_total{{code=\"404\",path=\"a\\\"b\"}} 1", lines);
        Assert.Contains($"# TYPE {prefix}_inflight gauge", lines);
        Assert.Contains($"{prefix}_inflight 3", lines);
        Assert.Contains($"{prefix}_level 7", lines);

        // The unit is a suffix before _total; a series recorded at zero is there from the start.
        Assert.Contains($"# TYPE {prefix}_sent_bytes_total counter", lines);
        Assert.Contains($"{prefix}_sent_bytes_total 0", lines);

        level = 9;
        Assert.Contains($"{prefix}_level 9", exporter.Collect().Split('\n'));
    }

    [Fact]
    public void Histograms_have_cumulative_buckets_from_their_advice_or_the_defaults_for_seconds()
    {
        var meterName = $"Kraken.HistogramTest{Guid.NewGuid():N}";
        using var exporter = new PrometheusExporter();
        using var meter = new Meter(meterName);
        var prefix = "kraken_" + meterName[7..].ToLowerInvariant();
        var advised = meter.CreateHistogram($"{meterName}.step.duration", "s", "Steps.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 10, 100] });
        var plain = meter.CreateHistogram<double>($"{meterName}.call.duration", "s");

        foreach (var v in new[] { 0.5, 1, 5, 50, 500 })
        {
            advised.Record(v, new KeyValuePair<string, object?>("module", "power"));
        }

        plain.Record(0.003);
        plain.Record(0.3);

        var lines = exporter.Collect().Split('\n');
        Assert.Contains($"# TYPE {prefix}_step_duration_seconds histogram", lines);
        Assert.Contains($"{prefix}_step_duration_seconds_bucket{{module=\"power\",le=\"1\"}} 2", lines);
        Assert.Contains($"{prefix}_step_duration_seconds_bucket{{module=\"power\",le=\"10\"}} 3", lines);
        Assert.Contains($"{prefix}_step_duration_seconds_bucket{{module=\"power\",le=\"100\"}} 4", lines);
        Assert.Contains($"{prefix}_step_duration_seconds_bucket{{module=\"power\",le=\"+Inf\"}} 5", lines);
        Assert.Contains($"{prefix}_step_duration_seconds_sum{{module=\"power\"}} 556.5", lines);
        Assert.Contains($"{prefix}_step_duration_seconds_count{{module=\"power\"}} 5", lines);

        Assert.Contains($"{prefix}_call_duration_seconds_bucket{{le=\"0.005\"}} 1", lines);
        Assert.Contains($"{prefix}_call_duration_seconds_bucket{{le=\"0.25\"}} 1", lines);
        Assert.Contains($"{prefix}_call_duration_seconds_bucket{{le=\"0.5\"}} 2", lines);
        Assert.Contains($"{prefix}_call_duration_seconds_bucket{{le=\"10\"}} 2", lines);
        Assert.Contains($"{prefix}_call_duration_seconds_count 2", lines);
    }

    [Fact]
    public void Process_runtime_and_build_series_are_written()
    {
        using var exporter = new PrometheusExporter();
        var text = exporter.Collect();
        var lines = text.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("kraken_build_info{build=\"", StringComparison.Ordinal) && l.EndsWith("} 1", StringComparison.Ordinal));
        foreach (var name in new[] { "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_start_time_seconds" })
        {
            var sample = Assert.Single(lines, l => l.StartsWith(name + " ", StringComparison.Ordinal));
            Assert.True(double.Parse(sample[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture) > 0, sample);
        }

        var start = double.Parse(lines.Single(l => l.StartsWith("process_start_time_seconds ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - start, 0, 24 * 3600);
        Assert.Contains("# TYPE dotnet_gc_collections_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_thread_pool_threads gauge", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_exceptions_total counter", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_meter_scoped_to_another_exporter_is_not_exported()
    {
        using var mine = new PrometheusExporter();
        using var other = new PrometheusExporter();
        var name = $"Kraken.ScopeTest{Guid.NewGuid():N}";
        using var ownMeter = new Meter(new MeterOptions(name) { Scope = mine });
        using var otherMeter = new Meter(new MeterOptions(name) { Scope = other });
        ownMeter.CreateObservableGauge("own", () => 1);
        otherMeter.CreateObservableGauge("foreign", () => 2);

        var text = mine.Collect();
        Assert.Contains("kraken_own 1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("kraken_foreign", text, StringComparison.Ordinal);
        Assert.Contains("kraken_foreign 2", other.Collect(), StringComparison.Ordinal);
    }
}
