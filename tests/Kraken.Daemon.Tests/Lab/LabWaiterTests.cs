// "lab up --wait" against a real root daemon API (in-process, loopback) holding the lab's cluster: Dsc changes
// written step by step must show as progress lines, end in "N nodes SYNC", and land in timings.json in order.
using System.Diagnostics;
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Lab;
using Kraken.Tree.State;

namespace Kraken.Daemon.Tests.Lab;

public sealed class LabWaiterTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-lab-wait-").FullName;
    private LabPlan _plan = null!;
    private TestDaemon _d = null!;

    public async Task InitializeAsync()
    {
        _plan = LabPlan.Create(_dir, 1, 1, false);
        var cluster = Path.Combine(_dir, "cluster.json");
        await File.WriteAllTextAsync(cluster, LabConfigFiles.ClusterJson(_plan));
        _d = await TestDaemon.StartRootAsync(import: false, extra: [$"--Store:Import={cluster}"]);
    }

    public async Task DisposeAsync()
    {
        await _d.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private void Dsc(LabNode node, string url, string value) =>
        _d.Daemon.Store.Set(StateView.Dsc, NodeId.Parse(node.Id, null), url, value);

    private (LabWaiter Waiter, StringWriter Output, List<string> Noted) Waiter(TimeSpan timeout)
    {
        var output = new StringWriter();
        var noted = new List<string>();
        var client = new ApiClient(new Uri(_d.Url), null, TimeSpan.FromSeconds(10));
        return (new LabWaiter(_plan, new LabPaths(_dir), client, TextWriter.Synchronized(output), Stopwatch.StartNew(), timeout, noted.Add), output, noted);
    }

    [Fact]
    public async Task Every_change_is_printed_and_the_wait_ends_when_every_node_is_sync()
    {
        var (waiter, output, noted) = Waiter(TimeSpan.FromSeconds(60));
        var run = waiter.RunAsync(CancellationToken.None);
        var t1 = _plan.Node("t1");
        var leaf = _plan.Node("t1n1");

        // The first poll (the root's line) comes after the event stream is subscribed.
        var clock = Stopwatch.StartNew();
        while (!output.ToString().Contains("root    PhysState -, Pxe -, RunState SYNC", StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), output.ToString());
            await Task.Delay(20);
        }

        // The boot of a tier-1 and then its leaf, as the root would see it; 1.2 s between steps lets a poll see each,
        // except PXE WAIT, which lasts a millisecond: only the event stream can catch it.
        (LabNode Node, string Url, string Value, int Delay)[] steps =
        [
            (t1, "/PhysState", "POWER_ON", 1200), (t1, "/Extensions/Pxe/State", "WAIT", 1200), (t1, "/Extensions/Pxe/State", "INIT", 1),
            (t1, "/RunState", "INIT", 1200), (t1, "/Extensions/Pxe/State", "COMP", 1200), (t1, "/RunState", "SYNC", 1200),
            (leaf, "/PhysState", "POWER_ON", 1200), (leaf, "/RunState", "SYNC", 1200),
        ];
        foreach (var (node, url, value, delay) in steps)
        {
            await Task.Delay(delay);
            Assert.False(run.IsCompleted, output.ToString());
            Dsc(node, url, value);
        }

        Assert.True(await run.WaitAsync(TimeSpan.FromSeconds(30)), output.ToString());
        var lines = output.ToString().TrimEnd().Split('\n');
        Assert.Matches(@"^lab: 3 nodes SYNC in \d+\.\d s$", lines[^1]);
        Assert.Contains(lines, l => l.Contains("t1      PhysState POWER_ON, Pxe -, RunState -", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("t1      PhysState POWER_ON, Pxe COMP, RunState SYNC", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("t1n1    PhysState POWER_ON, Pxe -, RunState SYNC", StringComparison.Ordinal));

        // timings.json: every milestone of t1 in the order it happened; the leaf skipped PXE; all SYNC at the end.
        Assert.Equal([Path.Combine(_dir, "timings.json")], noted.Distinct());
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_dir, "timings.json")));
        var nodes = doc.RootElement.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("name").GetString()!, n => n.Clone());
        var order = new[] { "powerOn", "pxeWait", "pxeInit", "runInit", "pxeComp", "sync" }.Select(k => nodes["t1"].GetProperty(k).GetDouble()).ToArray();
        Assert.Equal(order.Order(), order);
        Assert.True(order[^1] - order[0] > 4 * 1.1, $"steps 1.2 s apart must be timed apart: {string.Join(", ", order)}");
        Assert.True(order[2] - order[1] < 0.5, $"WAIT and INIT were a millisecond apart: {string.Join(", ", order)}");
        Assert.Equal(JsonValueKind.Null, nodes["t1n1"].GetProperty("pxeComp").ValueKind);
        Assert.True(nodes["t1n1"].GetProperty("sync").GetDouble() > order[^1]);
        Assert.True(doc.RootElement.GetProperty("allSync").GetDouble() >= nodes["t1n1"].GetProperty("sync").GetDouble());
    }

    [Fact]
    public async Task On_timeout_each_node_not_sync_is_reported_with_its_states_and_plan()
    {
        var (waiter, output, _) = Waiter(TimeSpan.FromSeconds(2));
        Dsc(_plan.Node("t1"), "/PhysState", "POWER_OFF");

        Assert.False(await waiter.RunAsync(CancellationToken.None));
        var text = output.ToString();
        Assert.Contains("lab: timed out after 2 s with 1 of 3 nodes SYNC; the others:", text, StringComparison.Ordinal);
        Assert.Contains($"  t1 {_plan.Node("t1").Id}: Dsc PhysState POWER_OFF, Pxe -, RunState -", text, StringComparison.Ordinal);
        Assert.Contains($"  t1n1 {_plan.Node("t1n1").Id}: Dsc PhysState -, Pxe -, RunState -", text, StringComparison.Ordinal);
        Assert.Matches(@"    engine at the root: \w+, step \S+, attempts \d+, last failure: ", text);
        Assert.Contains("    plan ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("nodes SYNC in", text, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_dir, "timings.json")));
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("allSync").ValueKind);
    }
}
