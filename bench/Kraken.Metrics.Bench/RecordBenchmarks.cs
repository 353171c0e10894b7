// One measurement on a label set seen before: a counter with two tags and a histogram with one.
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;

namespace Kraken.Metrics.Bench;

[MemoryDiagnoser]
public class RecordBenchmarks
{
    private Meter? _meter;
    private IDisposable? _listener;
    private Counter<long>? _counter;
    private Histogram<double>? _histogram;

    [Params(Exporter.None, Exporter.Kraken, Exporter.OpenTelemetry)]
    public Exporter Exporter { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _meter = new Meter("Kraken.Bench.Record");
        _counter = _meter.CreateCounter<long>("kraken.bench.frames.dropped", "{frame}");
        _histogram = _meter.CreateHistogram<double>("kraken.bench.step.duration", "s");
        _listener = Listeners.Start(Exporter);
        Counter();
        Histogram();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener?.Dispose();
        _meter?.Dispose();
    }

    [Benchmark]
    public void Counter() =>
        _counter!.Add(1, new KeyValuePair<string, object?>("interface", "eth1"), new KeyValuePair<string, object?>("reason", "unknown_client"));

    [Benchmark]
    public void Histogram() => _histogram!.Record(0.042, new KeyValuePair<string, object?>("module", "power"));
}
