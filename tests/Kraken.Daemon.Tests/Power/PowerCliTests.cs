// "kraken power ..." in-process against a loopback root with the simulated driver: summary, exit codes, status, ops.
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Modules.Power;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using static Kraken.Daemon.Tests.Power.PowerTestSupport;

namespace Kraken.Daemon.Tests.Power;

[Trait("Category", "Network")]
public sealed class PowerCliTests : IAsyncLifetime
{
    private TestDaemon _d = null!;

    public async Task InitializeAsync()
    {
        _d = await StartAsync(null, "--Modules:Power:Drivers:0=sim", "--Modules:Power:Sim:OnDelay=00:00:00.005", "--Modules:Power:Sim:OffDelay=00:00:00.005", "--Modules:Power:PollInterval=00:00:00");
        await CreateNodesAsync(_d, Enumerable.Range(1, 6).Select(i => NodeJson(i, $"{{\"driver\":\"sim\",\"address\":\"s{i}\"}}")));
    }

    public async Task DisposeAsync() => await _d.DisposeAsync();

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CommandLine.RunAsync([.. args, "--server", _d.Url], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private Task<(int Code, string Out, string Err)> RunWithToken(params string[] args) => Run([.. args, "--token", TestDaemon.Token]);

    [Fact]
    public async Task Power_on_by_name_and_id_waits_prints_the_summary_and_status_ops_follow()
    {
        var sim = _d.Power().Drivers.OfType<SimPowerDriver>().Single();
        var (code, output, err) = await RunWithToken("power", "on", "p1", NodeId(2), "--id", NodeId(3), "--wait", "--nodes");
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^power on [0-9a-f]{8}: done, 3 node\(s\): 3 ok, 0 failed, 0 timed out, 0 pending in ", lines[0]);
        Assert.StartsWith("NODE", lines[1], StringComparison.Ordinal);
        Assert.Equal(3, lines.Count(l => l.Contains(" ok ", StringComparison.Ordinal) && l.Contains(" on ", StringComparison.Ordinal)));
        Assert.All(Enumerable.Range(1, 3), i => Assert.Equal(PowerStatus.On, sim.GetState(Tree.State.NodeId.Parse(NodeId(i), null))));
        Assert.Equal(PhysState.PowerOn, _d.Daemon.Store.Get(StateView.Cfg, Tree.State.NodeId.Parse(NodeId(1), null))!.PhysState);

        // A live status calls the BMCs, so it needs the token like a write.
        (code, _, err) = await Run("power", "status", "--filter", "/Extensions/Power/Driver=sim");
        Assert.NotEqual(0, code);
        Assert.Contains("Missing bearer token", err, StringComparison.Ordinal);
        (code, output, _) = await RunWithToken("power", "status", "--filter", "/Extensions/Power/Driver=sim");
        Assert.Equal(0, code);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        Assert.Equal(6, rows.Count);
        Assert.Equal(3, rows.Count(r => r.Contains(" on ", StringComparison.Ordinal)));
        Assert.Equal(3, rows.Count(r => r.Contains(" off ", StringComparison.Ordinal)));

        (code, output, _) = await Run("power", "ops", "--json");
        Assert.Equal(0, code);
        var op = Assert.Single(JsonDocument.Parse(output).RootElement.GetProperty("operations").EnumerateArray());
        (code, output, _) = await Run("power", "ops", op.GetProperty("id").GetString()!);
        Assert.Equal(0, code);
        Assert.Contains("3 ok", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_node_exits_1_with_a_clear_message_and_bad_usage_exits_2()
    {
        var sim = _d.Power().Drivers.OfType<SimPowerDriver>().Single();
        sim.SetSilent(Tree.State.NodeId.Parse(NodeId(5), null), true);
        var (code, output, err) = await RunWithToken("power", "off", "--under", TestDaemon.RootId, "--filter", "/Extensions/Power/Driver=sim", "--wait", "--call-timeout", "0.2", "--retries", "0", "--no-cfg");
        Assert.Equal(1, code);
        Assert.Contains("6 node(s): 5 ok, 0 failed, 1 timed out", output, StringComparison.Ordinal);
        Assert.Contains(output.Split('\n'), l => l.StartsWith(NodeId(5), StringComparison.Ordinal) && l.Contains("timedOut", StringComparison.Ordinal) && l.Contains("no answer within 0.2 s", StringComparison.Ordinal));
        Assert.Contains("kraken: power off: 0 of 6 node(s) failed and 1 timed out (operation ", err, StringComparison.Ordinal);

        (code, _, err) = await Run("power", "on", "p1");
        Assert.Equal(1, code);
        Assert.Contains("401", err, StringComparison.Ordinal);
        (code, _, err) = await RunWithToken("power", "on", "nobody");
        Assert.Equal(1, code);
        Assert.Contains("no node is named 'nobody'", err, StringComparison.Ordinal);
        (code, _, err) = await RunWithToken("power", "on");
        Assert.Equal(1, code);
        Assert.Contains("Empty selection", err, StringComparison.Ordinal);
        (code, _, err) = await RunWithToken("power", "explode", "p1");
        Assert.Equal(2, code);
        Assert.Contains("'power explode' is not a verb", err, StringComparison.Ordinal);
        (code, _, err) = await RunWithToken("power", "on", "p1", "--retries", "many");
        Assert.Equal(2, code);
        Assert.Contains("--retries 'many'", err, StringComparison.Ordinal);
        (code, _, err) = await Run("power", "ops", "0badc0de");
        Assert.Equal(1, code);
        Assert.Contains("404", err, StringComparison.Ordinal);

        // Without --wait: the operation's id, to follow with "power ops".
        (code, var started, _) = await RunWithToken("power", "cycle", "p2");
        Assert.Equal(0, code);
        Assert.Matches(@"^power cycle: 1 node\(s\), operation [0-9a-f]{8} \(follow with: kraken power ops [0-9a-f]{8}\)", started);
    }
}
