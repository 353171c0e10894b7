// The client verbs, run in-process against a daemon on a loopback port: tables, --json, exit codes, messages.
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Tree.State;

namespace Kraken.Daemon.Tests.Cli;

[Trait("Category", "Network")]
public sealed class CliTests : RootDaemonTestBase
{
    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CommandLine.RunAsync([.. args, "--server", D.Url], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private Task<(int Code, string Out, string Err)> RunWithToken(params string[] args) => Run([.. args, "--token", TestDaemon.Token]);

    [Fact]
    public async Task Nodes_list_prints_a_table_or_json_and_filters()
    {
        var (code, table, _) = await Run("nodes", "list");
        Assert.Equal(0, code);
        var lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ID", lines[0], StringComparison.Ordinal);
        Assert.Equal(10, lines.Length);

        var (_, json, _) = await Run("nodes", "list", "--under", TestDaemon.T1a, "--json");
        Assert.Equal(3, JsonDocument.Parse(json).RootElement.GetProperty("nodes").GetArrayLength());
        Assert.Equal(json, (await Run("nodes", "list", "--under", TestDaemon.T1a, "-o", "json")).Out);
        Assert.Equal(json, (await Run("nodes", "list", "--under", TestDaemon.T1a, "--output=json", "--timeout", "5s")).Out);
        var (_, wide, _) = await Run("nodes", "list", "-o", "wide");
        Assert.Matches("^ID +NAME +PARENT +RUNSTATE +PHYSSTATE +ARCH +PLATFORM\n", wide);
        Assert.Equal(table.Split('\n').Length, wide.Split('\n').Length);
        Assert.Equal(table, (await Run("nodes", "list", "-o", "table")).Out);
        var (_, filtered, _) = await Run("nodes", "list", "--filter", "/PhysState=POWER_ON");
        Assert.Contains("root", filtered, StringComparison.Ordinal);
        Assert.DoesNotContain("t1a", filtered, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Node_set_and_get_round_trip_and_bad_input_exits_non_zero()
    {
        var (code, _, err) = await RunWithToken("node", "set", TestDaemon.N101, "/PhysState=POWER_ON", "Extensions/Pxe/State=WAIT");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, err);
        var cfg = D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(TestDaemon.N101, null))!;
        Assert.Equal(Kraken.Tree.State.Proto.PhysState.PowerOn, cfg.PhysState);

        var (_, table, _) = await Run("node", "get", TestDaemon.N101);
        Assert.Contains(table.Split('\n'), l => l.StartsWith("/Extensions/Pxe/State", StringComparison.Ordinal) && l.Contains("WAIT", StringComparison.Ordinal));

        var version = cfg.Version;
        (code, _, err) = await RunWithToken("node", "set", TestDaemon.N101, "/PhysState=ON");
        Assert.Equal(1, code);
        Assert.Contains("POWER_ON", err, StringComparison.Ordinal);
        (code, _, err) = await Run("node", "set", TestDaemon.N101, "/PhysState=POWER_OFF");
        Assert.Equal(1, code);
        Assert.Contains("401", err, StringComparison.Ordinal);
        (code, _, err) = await RunWithToken("node", "set", TestDaemon.N101, "PhysState");
        Assert.Equal(2, code);
        Assert.Contains("URL=VALUE", err, StringComparison.Ordinal);
        Assert.Equal(version, D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(TestDaemon.N101, null))!.Version);

        (code, _, err) = await Run("node", "get", "00000000-0000-4000-8000-00000000beef");
        Assert.Equal(1, code);
        Assert.Contains("404", err, StringComparison.Ordinal);
        (code, _, err) = await Run("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("unknown verb", err, StringComparison.Ordinal);

        // Options without a verb: a usage error, not an unhandled exception.
        (code, _, err) = await Run("--json");
        Assert.Equal(2, code);
        Assert.Contains("missing a verb", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_export_graph_plan_freeze_thaw_and_tree()
    {
        var file = Path.Combine(D.Directory, "legacy.json");
        File.Copy(Path.Combine(TestDaemon.RepoRoot(), "examples", "legacy-vbox-nodelist.json"), file);
        var (code, output, _) = await RunWithToken("import", file);
        Assert.Equal(0, code);
        Assert.Contains("created 4", output, StringComparison.Ordinal);

        var exported = Path.Combine(D.Directory, "export.json");
        Assert.Equal(0, (await Run("export", "--file", exported)).Code);
        Assert.Equal(13, JsonDocument.Parse(await File.ReadAllTextAsync(exported)).RootElement.GetProperty("nodes").GetArrayLength());

        var (_, dot, _) = await Run("graph", "--dot");
        Assert.Contains("OFFtoON", dot, StringComparison.Ordinal);
        Assert.StartsWith("digraph", dot.TrimStart(), StringComparison.Ordinal);

        Assert.Equal("frozen\n", (await RunWithToken("freeze")).Out);
        Assert.True(D.Daemon.Reconcile.IsFrozen);
        await RunWithToken("node", "set", TestDaemon.T1a, "/PhysState=POWER_ON");
        var (_, plan, _) = await Run("plan", TestDaemon.T1a);
        Assert.Contains("UKtoOFF", plan, StringComparison.Ordinal);
        Assert.Contains("OFFtoON", plan, StringComparison.Ordinal);
        Assert.Equal("thawed\n", (await RunWithToken("thaw")).Out);
        Assert.False(D.Daemon.Reconcile.IsFrozen);

        var (_, tree, _) = await Run("tree", "--json");
        Assert.Equal("root", JsonDocument.Parse(tree).RootElement.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Bulk_set_and_delete()
    {
        var (code, output, _) = await RunWithToken("bulk", "set", "/PhysState=POWER_OFF", "--under", TestDaemon.T1a);
        Assert.Equal(0, code);
        Assert.Equal("selected 3, changed 3\n", output);
        Assert.Equal(0, (await RunWithToken("node", "delete", TestDaemon.N101)).Code);
        Assert.False(D.Daemon.Store.Contains(NodeId.Parse(TestDaemon.N101, null)));
    }

    [Fact]
    public async Task Watch_prints_the_changes_it_is_shown()
    {
        var stdout = new StringWriter();
        var watch = CommandLine.RunAsync(["watch", "--node", TestDaemon.N101, "--view", "cfg", "--count", "2", "--server", D.Url], stdout, TextWriter.Null);
        await ApiTestsWait.UntilSubscribed(D);
        await RunWithToken("node", "set", TestDaemon.T1a, "/PhysState=POWER_ON");
        await RunWithToken("node", "set", TestDaemon.N101, "/PhysState=POWER_ON", "/Arch=arm64");
        Assert.Equal(0, await watch.WaitAsync(TimeSpan.FromSeconds(20)));
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Contains(TestDaemon.N101, l, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("/PhysState", StringComparison.Ordinal) && l.Contains("-> POWER_ON", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_token_can_come_from_a_file()
    {
        var file = Path.Combine(D.Directory, "token");
        await File.WriteAllTextAsync(file, TestDaemon.Token + "\n");
        var (code, _, err) = await Run("node", "set", TestDaemon.N101, "/Arch=arm64", "--token-file", file);
        Assert.True(code == 0, err);
        Assert.Equal("arm64", D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(TestDaemon.N101, null))!.Arch);

        (code, _, err) = await Run("node", "set", TestDaemon.N101, "/Arch=x86", "--token-file", file + ".missing");
        Assert.Equal(2, code);
        Assert.Contains("token file", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_clear_error()
    {
        var stderr = new StringWriter();
        Assert.Equal(1, await CommandLine.RunAsync(["nodes", "list", "--server", "http://127.0.0.1:1"], TextWriter.Null, stderr));
        Assert.Contains("cannot reach", stderr.ToString(), StringComparison.Ordinal);
    }
}

internal static class ApiTestsWait
{
    /// <summary>Waits until an event-stream client has subscribed to the daemon's hub.</summary>
    public static Task UntilSubscribed(TestDaemon d, int clients = 1) =>
        Api.ApiTests.Until(() => Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Kraken.Daemon.Events.EventHub>(d.Services).ClientCount >= clients, "the watcher subscribed");
}
