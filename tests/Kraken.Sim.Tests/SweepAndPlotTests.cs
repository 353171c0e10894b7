using System.Text.Json;
using System.Xml.Linq;
using Kraken.Sim.Cluster;
using Kraken.Sim.Reports;
using Kraken.Sim.Scenarios;
using Kraken.Sim.Sweeps;

namespace Kraken.Sim.Tests;

public class SweepAndPlotTests
{
    private static SweepResult SmallSweep() =>
        new SweepRunner(new SimSettings { Seed = 3 }, NoProgress.Instance).Run([TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1)], [3], [8]);

    [Fact]
    public void A_sweep_measures_detection_false_positives_propagation_and_bandwidth_per_point()
    {
        var sweep = SmallSweep();
        Assert.Equal(2, sweep.Points.Count);
        foreach (var p in sweep.Points)
        {
            // Silence counts from the last hello heard, up to one interval before the crash; the check runs at
            // each hello tick, up to one interval after the dead interval has passed.
            Assert.NotNull(p.DetectionMean);
            Assert.InRange(p.DetectionMax!.Value, p.Dead.TotalSeconds - p.Hello.TotalSeconds, p.Dead.TotalSeconds + p.Hello.TotalSeconds);
            Assert.InRange(p.PropagationMax!.Value, 0.001, 0.05);
            Assert.True(p.BytesPerNodePerSecond > 0);
            Assert.True(p.FalsePositives >= 0);
        }

        // Four times the hello rate costs about four times the bytes, and detects four times sooner.
        var fast = sweep.Points[0];
        var slow = sweep.Points[1];
        Assert.InRange(fast.BytesPerNodePerSecond / slow.BytesPerNodePerSecond, 3, 5);
        Assert.True(fast.DetectionMean < slow.DetectionMean);
    }

    [Fact]
    public void A_sweep_is_reproducible_for_its_seed()
    {
        var a = SmallSweep();
        var b = SmallSweep();
        Assert.Equal(a.Points, b.Points);
    }

    [Fact]
    public void Sweep_outputs_are_a_table_json_and_an_svg_with_title_axes_and_legend()
    {
        var sweep = SmallSweep();
        var text = new StringWriter();
        SweepTable.Write(text, sweep);
        Assert.Contains("250ms", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("B/node/s", text.ToString(), StringComparison.Ordinal);

        var json = Path.GetTempFileName();
        try
        {
            JsonReport.WriteSweep(json, sweep);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var points = doc.RootElement.GetProperty("points");
            Assert.Equal(2, points.GetArrayLength());
            Assert.Equal(0.25, points[0].GetProperty("helloSeconds").GetDouble());
            Assert.Equal(sweep.Points[0].BytesPerNodePerSecond, points[0].GetProperty("bytesPerNodePerSecond").GetDouble());
        }
        finally
        {
            File.Delete(json);
        }

        var svg = XDocument.Parse(SvgPlot.Sweep(sweep));
        var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        Assert.Contains("Failure detection against sync bandwidth", texts);
        Assert.Contains(texts, t => t.Contains("bytes/s", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Contains("detection time (s", StringComparison.Ordinal));
        Assert.Contains("fan-out 8, dead = 3 x hello", texts);
        Assert.Equal(2 + 1, svg.Descendants().Count(e => e.Name.LocalName == "circle")); // two points and the legend's marker
    }

    [Fact]
    public void The_convergence_plot_has_one_line_per_tier_reaching_one_hundred_percent()
    {
        var r = new ScenarioRunner(new SimSettings { Nodes = 100, Fanout = [10], Seed = 1 }, new ScenarioOptions()).Run();
        var svg = XDocument.Parse(SvgPlot.Convergence([r]));
        var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        Assert.Contains("simulated time since start (s)", texts);
        Assert.Contains("nodes in SYNC at the root (% of tier)", texts);
        Assert.Contains(texts, t => t.StartsWith("tier 1 (", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.StartsWith("tier 2 (", StringComparison.Ordinal));
        Assert.Equal(2, svg.Descendants().Count(e => e.Name.LocalName == "polyline"));
        Assert.All(r.Convergence.Zip(r.TierCounts), x => Assert.Equal(x.Second, x.First[^1].Count));
    }
}
