// What listens to the Kraken.* meters during a benchmark: nothing, the daemon's exporter, or OpenTelemetry's.
using Kraken.Daemon.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Kraken.Metrics.Bench;

public enum Exporter
{
    None,

    /// <summary>The daemon's exporter, as the daemon runs it (with the process series).</summary>
    Kraken,

    /// <summary>The daemon's exporter without the process series (what OpenTelemetry's writes, too).</summary>
    KrakenNoProcess,

    OpenTelemetry,
}

internal static class Listeners
{
    /// <summary>Starts the exporter (null for none); dispose it to stop listening.</summary>
    public static IDisposable? Start(Exporter exporter) => exporter switch
    {
        Exporter.Kraken => new PrometheusExporter(),
        Exporter.KrakenNoProcess => new PrometheusExporter(processSeries: false),
        Exporter.OpenTelemetry => Sdk.CreateMeterProviderBuilder().AddMeter("Kraken.*").AddPrometheusExporter().Build(),
        _ => null,
    };
}
