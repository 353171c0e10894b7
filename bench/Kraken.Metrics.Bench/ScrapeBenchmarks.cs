// GET /metrics over loopback HTTP from a web host serving one exporter, with the series of a busy daemon: a PXE
// interface's DHCP counters, sync counters by type and direction, histograms by module, and the runtime's meter.
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Kraken.Daemon.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Kraken.Metrics.Bench;

[MemoryDiagnoser]
public class ScrapeBenchmarks
{
    private Meter? _meter;
    private WebApplication? _app;
    private HttpClient? _http;

    [Params(Exporter.Kraken, Exporter.KrakenNoProcess, Exporter.OpenTelemetry)]
    public Exporter Exporter { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (Exporter == Exporter.OpenTelemetry)
        {
            // The same meters, and no response cache: every scrape collects, as the daemon's exporter does.
            builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter("Kraken.*", PrometheusExporter.RuntimeMeter).AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        }
        else
        {
            builder.Services.AddSingleton(new PrometheusExporter(processSeries: Exporter == Exporter.Kraken));
        }

        _app = builder.Build();
        if (Exporter != Exporter.OpenTelemetry)
        {
            _app.MapPrometheus();
        }
        else
        {
            _app.MapPrometheusScrapingEndpoint();
        }

        await _app.StartAsync();
        _meter = new Meter("Kraken.Bench.Scrape");
        Populate(_meter);
        _http = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
        var text = await _http.GetStringAsync("/metrics");
        if (!text.Contains("kraken_bench_sync_messages_total", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the scrape lacks the benchmark's series:\n" + text);
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _http?.Dispose();
        await _app!.StopAsync();
        await _app.DisposeAsync();
        _meter?.Dispose();
    }

    [Benchmark]
    public Task<byte[]> Scrape() => _http!.GetByteArrayAsync("/metrics");

    /// <summary>About 300 series: 20 DHCP types and reasons, 36 sync type and direction pairs, 6 histograms of 13 buckets.</summary>
    private static void Populate(Meter meter)
    {
        var dhcp = meter.CreateCounter<long>("kraken.bench.dhcp.frames.dropped", "{frame}");
        foreach (var reason in Enumerable.Range(0, 20))
        {
            dhcp.Add(reason, new("interface", "eth1"), new("reason", $"reason_{reason}"));
        }

        var messages = meter.CreateCounter<long>("kraken.bench.sync.messages", "{message}");
        var bytes = meter.CreateCounter<long>("kraken.bench.sync.bytes", "By");
        foreach (var type in Enumerable.Range(0, 9))
        {
            foreach (var direction in new[] { "in", "out" })
            {
                messages.Add(type, new("type", $"type_{type}"), new("direction", direction));
                bytes.Add(type * 100, new("type", $"type_{type}"), new("direction", direction));
            }
        }

        var steps = meter.CreateHistogram("kraken.bench.step.duration", "s", null, null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800] });
        foreach (var module in new[] { "power", "pxe", "join" })
        {
            foreach (var result in new[] { "confirmed", "failed" })
            {
                for (var i = 0; i < 100; i++)
                {
                    steps.Record(i * 0.7, new("module", module), new("result", result));
                }
            }
        }
    }
}
