// The outcome of a sweep: one point per combination of hello interval, dead multiple and fan-out.
namespace Kraken.Sim.Sweeps;

internal sealed class SweepResult
{
    public required string Profile { get; init; }

    public required int Seed { get; init; }

    /// <summary>Datagram loss during the false-positive window.</summary>
    public required double Loss { get; init; }

    /// <summary>Virtual time of each measuring window (traffic, false positives).</summary>
    public required TimeSpan Window { get; init; }

    public List<SweepPoint> Points { get; } = [];

    public TimeSpan Wall { get; set; }
}

/// <summary>
/// Figures of one combination: failure-detection time (crash to ERROR at the parent), false positives under loss
/// (adjacencies declared dead while alive), change propagation (Cfg at the parent to Dsc back) and steady-state
/// bytes per node per second.
/// </summary>
internal sealed record SweepPoint(
    TimeSpan Hello,
    int DeadMultiple,
    TimeSpan Dead,
    int Fanout,
    double? DetectionMean,
    double? DetectionMax,
    long FalsePositives,
    double FalsePositiveRate,
    double? PropagationP50,
    double? PropagationMax,
    double BytesPerNodePerSecond);
