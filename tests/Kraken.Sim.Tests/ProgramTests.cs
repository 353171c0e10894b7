using System.Text.Json;
using Kraken.Sim.Cli;

namespace Kraken.Sim.Tests;

public class ProgramTests
{
    [Fact]
    public void The_default_run_is_a_ten_thousand_node_cold_boot()
    {
        var d = SimCommand.Default;
        Assert.Equal("run", d.Verb);
        Assert.Equal(10_000, d.Settings.Nodes);
        Assert.Equal(Scenarios.ScenarioKind.Coldboot, d.Scenario.Kind);
        Assert.False(d.Scenario.IsWarm);
    }

    [Fact]
    public void A_run_prints_the_summary_and_writes_json()
    {
        var json = Path.GetTempFileName();
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.Equal(0, Program.Run(["run", "--nodes", "120", "--fanout", "12", "--seed", "3", "--json", json, "--quiet"], stdout, stderr));
            var text = stdout.ToString();
            Assert.Contains("Scenario coldboot, profile kraken, seed 3: 120 nodes", text, StringComparison.Ordinal);
            Assert.Contains("converged", text, StringComparison.Ordinal);
            Assert.Contains("99.9 %", text, StringComparison.Ordinal);
            Assert.Contains("simulated / wall", text, StringComparison.Ordinal);
            Assert.Equal(string.Empty, stderr.ToString());

            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var run = doc.RootElement.GetProperty("runs")[0];
            Assert.Equal("kraken-sim/1", doc.RootElement.GetProperty("schema").GetString());
            Assert.True(run.GetProperty("converged").GetBoolean());
            Assert.Equal(120, run.GetProperty("topology").GetProperty("nodes").GetInt32());
            Assert.Equal(120, run.GetProperty("topology").GetProperty("tierCounts").EnumerateArray().Sum(e => e.GetInt32()));
            var p50 = run.GetProperty("sync").GetProperty("p50").GetDouble();
            var p100 = run.GetProperty("sync").GetProperty("p100").GetDouble();
            Assert.InRange(p50, 1, p100);
            Assert.True(run.GetProperty("simulatedSeconds").GetDouble() >= p100);
            var tierBytes = run.GetProperty("tiers").EnumerateArray().Sum(t => t.GetProperty("bytes").GetInt64());
            Assert.Equal(run.GetProperty("bytes").GetInt64(), tierBytes);
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public void Options_without_a_verb_are_a_run_and_compare_prints_both_profiles()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, Program.Run(["--scenario", "change", "--nodes", "40", "--fanout", "8", "--compare", "--quiet"], stdout, new StringWriter()));
        var text = stdout.ToString();
        Assert.Contains("Scenario change, profile kraken,", text, StringComparison.Ordinal);
        Assert.Contains("Scenario change, profile kraken-go,", text, StringComparison.Ordinal);
        Assert.Contains("kraken-go / kraken", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_without_a_file_prints_the_embedded_example_cluster_as_a_tree()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, Program.Run(["show"], stdout, stderr));
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("9 nodes, 1 root(s)", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("root ", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("  t1a ", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("    n101 ", lines[3], StringComparison.Ordinal);
        Assert.Contains("backup t1b", lines[3], StringComparison.Ordinal);
        Assert.Equal(10, lines.Length);
        Assert.Equal(string.Empty, stderr.ToString());
    }

    [Fact]
    public void Show_reports_every_error_of_a_bad_file_and_fails()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"nodes":[{"id":"123e4567-e89b-12d3-a456-426655440000","physState":"ON"},{"nodename":"x"}]}""");
            var stderr = new StringWriter();
            Assert.Equal(1, Program.Run(["show", path], new StringWriter(), stderr));
            Assert.Contains("nodes[0] (123e4567-e89b-12d3-a456-426655440000) /PhysState", stderr.ToString(), StringComparison.Ordinal);
            Assert.Contains("nodes[1] /Id", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "run", "--nodes", "0" }, "--nodes: '0' is not a whole number from 1")]
    [InlineData(new[] { "run", "--hello", "5 parsecs" }, "--hello: '5 parsecs' is not a duration")]
    [InlineData(new[] { "run", "--loss", "1.5" }, "--loss: 1.5 is not in [0, 1]")]
    [InlineData(new[] { "run", "--scenario", "meltdown" }, "--scenario: unknown scenario 'meltdown'")]
    [InlineData(new[] { "run", "--profile", "ospf" }, "--profile: unknown profile 'ospf'")]
    [InlineData(new[] { "run", "--pxe", "gamma:3s" }, "--pxe: 'gamma:3s' is not a delay")]
    [InlineData(new[] { "run", "--hello", "10s", "--dead", "5s" }, "--dead (5s) must be longer than --hello (10s)")]
    [InlineData(new[] { "run", "--plot", "out.png" }, "--plot: only SVG is written")]
    [InlineData(new[] { "run", "--nodes" }, "--nodes needs a value")]
    [InlineData(new[] { "run", "--frobnicate" }, "unknown option '--frobnicate'")]
    public void Bad_arguments_are_named_and_nothing_runs(string[] args, string message)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(2, Program.Run(args, stdout, stderr));
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("usage", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout.ToString());
    }

    [Fact]
    public void Export_state_writes_a_file_the_state_reader_loads_with_every_parent_and_backup()
    {
        var path = Path.GetTempFileName();
        try
        {
            var stderr = new StringWriter();
            Assert.Equal(0, Program.Run(["run", "--nodes", "60", "--fanout", "6", "--export-state", path, "--quiet"], new StringWriter(), stderr));
            var store = new Tree.State.StateStore();
            Tree.StateFiles.StateFileImporter.ImportFile(store, path);
            Assert.Equal(61, store.Count);
            var records = store.Snapshot(Tree.State.StateView.Cfg);
            var root = Assert.Single(records, r => r.ParentId is null);
            Assert.Equal("root", root.Nodename);
            Assert.All(records.Where(r => r.ParentId is not null), r =>
            {
                Assert.True(store.Contains(r.ParentId!.Value));
                Assert.Equal("sim", r.Get("/Extensions/Power/Driver").ToString());
            });
            Assert.Contains(records, r => !r.BackupParents.IsEmpty);

            // Every node has its interface: a distinct locally administered MAC and address, the parent as gateway.
            var interfaces = records.ToDictionary(r => r.Id, r => Tree.State.StandardExtensions.Interface(r, "kraken")!);
            Assert.Equal(61, interfaces.Values.Select(i => i.Mac).Distinct().Count());
            Assert.Equal(61, interfaces.Values.Select(i => i.Ip).Distinct().Count());
            Assert.All(interfaces.Values, i => Assert.Equal((0x0200_0000_0000UL, 0xC612_0000u, 15u), (i.Mac & 0xffff_0000_0000UL, i.Ip & 0xfffe_0000u, i.Prefix)));
            Assert.All(records.Where(r => r.ParentId is not null), r => Assert.Equal(interfaces[r.ParentId!.Value].Ip, interfaces[r.Id].Gateway));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
