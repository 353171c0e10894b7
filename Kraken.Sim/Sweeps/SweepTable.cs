// The human summary of a sweep.
using System.Globalization;
using Kraken.Net.Execution;
using Kraken.Sim.Reports;

namespace Kraken.Sim.Sweeps;

internal static class SweepTable
{
    public static void Write(TextWriter w, SweepResult sweep)
    {
        var ci = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(ci, $"Sweep, profile {sweep.Profile}, seed {sweep.Seed}: one parent and its children per point; windows of {sweep.Window.TotalSeconds:0} s; false positives at {sweep.Loss * 100:0.#} % loss"));
        w.WriteLine();
        SummaryTable.Table(w, ["hello", "dead", "fanout", "detect mean", "detect max", "false pos.", "FP /adj/h", "change p50", "change max", "B/node/s"],
            sweep.Points.Select(p => new[]
            {
                Durations.Format(p.Hello),
                $"{Durations.Format(p.Dead)} (x{p.DeadMultiple})",
                p.Fanout.ToString(ci),
                Sec(p.DetectionMean),
                Sec(p.DetectionMax),
                p.FalsePositives.ToString(ci),
                p.FalsePositiveRate.ToString("0.###", ci),
                Sec(p.PropagationP50),
                Sec(p.PropagationMax),
                p.BytesPerNodePerSecond.ToString("N1", ci),
            }));
        w.WriteLine();
        w.WriteLine(string.Create(ci, $"  wall time {sweep.Wall.TotalSeconds:0.0} s"));
    }

    private static string Sec(double? s) => s is { } v ? SummaryTable.Seconds(TimeSpan.FromSeconds(v)) : "not reached";
}
