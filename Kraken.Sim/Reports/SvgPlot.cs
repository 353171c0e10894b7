// The two plots: convergence over time for runs, detection time against bandwidth per node for sweeps.
using System.Globalization;
using Kraken.Net.Execution;
using Kraken.Sim.Sweeps;

namespace Kraken.Sim.Reports;

internal static class SvgPlot
{
    private static readonly CultureInfo s_ci = CultureInfo.InvariantCulture;

    /// <summary>Share of each tier first in SYNC at the root over simulated time, one line per tier (and per run).</summary>
    public static string Convergence(IReadOnlyList<SimResult> runs)
    {
        var first = runs[0];
        var chart = new SvgChart
        {
            Title = $"Convergence: {first.Nodes.ToString("N0", s_ci)} nodes, scenario {first.Scenario}",
            Subtitle = $"nodes first seen in SYNC at the root; seed {first.Seed}; {string.Join(", ", first.Settings.Take(3).Select(kv => $"{kv.Key} {kv.Value}"))}",
            XLabel = "simulated time since start (s)",
            YLabel = "nodes in SYNC at the root (% of tier)",
            YMin = 0,
            YMax = 100,
        };
        var color = 0;
        foreach (var run in runs)
        {
            for (var k = 0; k < run.Convergence.Count; k++)
            {
                var total = run.TierCounts[k];
                var name = (runs.Count > 1 ? run.Profile + ", " : string.Empty) + $"tier {k + 1} ({total.ToString("N0", s_ci)} nodes)";
                chart.Series.Add(new ChartSeries(name, SvgChart.Palette[color++ % SvgChart.Palette.Length],
                    [.. run.Convergence[k].Select(p => (p.Seconds, 100.0 * p.Count / total))]));
            }
        }

        return chart.Render();
    }

    /// <summary>Mean failure-detection time against steady-state bytes per node per second, a series per fan-out.</summary>
    public static string Sweep(SweepResult sweep)
    {
        var chart = new SvgChart
        {
            Title = "Failure detection against sync bandwidth",
            Subtitle = $"profile {sweep.Profile}; each point a hello interval (labelled once) and dead multiple (marker); colour per fan-out",
            XLabel = "steady-state sync traffic per node (bytes/s, log)",
            YLabel = "mean failure-detection time (s, log)",
            XLog = true,
            YLog = true,
        };
        string[] markers = ["circle", "square", "triangle", "diamond"];
        var fanouts = sweep.Points.Select(p => p.Fanout).Distinct().ToList();
        var mults = sweep.Points.Select(p => p.DeadMultiple).Distinct().ToList();
        foreach (var f in fanouts)
        {
            foreach (var m in mults)
            {
                var pts = sweep.Points.Where(p => p.Fanout == f && p.DeadMultiple == m && p.DetectionMean is not null).OrderBy(p => p.Hello).ToList();
                chart.Series.Add(new ChartSeries($"fan-out {f}, dead = {m} x hello",
                    SvgChart.Palette[fanouts.IndexOf(f) % SvgChart.Palette.Length],
                    [.. pts.Select(p => (p.BytesPerNodePerSecond, p.DetectionMean!.Value))],
                    Line: false,
                    Labels: f == fanouts[0] ? [.. pts.Select(p => Durations.Format(p.Hello))] : null,
                    Marker: markers[mults.IndexOf(m) % markers.Length]));
            }
        }

        return chart.Render();
    }

    public static void WriteConvergence(string path, IReadOnlyList<SimResult> runs) => File.WriteAllText(path, Convergence(runs));

    public static void WriteSweep(string path, SweepResult sweep) => File.WriteAllText(path, Sweep(sweep));
}
