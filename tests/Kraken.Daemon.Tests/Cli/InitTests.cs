// "kraken init": a configuration per role that starts as written, secrets 0600, and nothing overwritten.
using System.Runtime.Versioning;
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Tests.Functional;
using Microsoft.Extensions.Configuration;
using static Kraken.Daemon.Tests.Cli.CliRun;

namespace Kraken.Daemon.Tests.Cli;

[SupportedOSPlatform("linux")]
public sealed class InitTests() : TempDirectoryTests("kraken-init-")
{
    [Fact]
    [Trait("Category", "Network")]
    public async Task A_root_made_by_init_starts_as_written_answers_and_stops_on_sigterm_with_0()
    {
        var dir = Path.Combine(Dir, "root");
        var (code, output, err) = await Run("init", "--role", "root", "--dir", dir);
        Assert.True(code == 0, err);
        Assert.Contains($"kraken serve --config {dir}/kraken.json", output, StringComparison.Ordinal);
        Assert.Equal(["api-token", "join-secret", "kraken.json"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var secret in new[] { "api-token", "join-secret" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, secret)));
            Assert.Matches("^[A-Za-z0-9_-]{43}\n$", await File.ReadAllTextAsync(Path.Combine(dir, secret)));
        }

        Assert.NotEqual(await File.ReadAllTextAsync(Path.Combine(dir, "api-token")), await File.ReadAllTextAsync(Path.Combine(dir, "join-secret")));
        var config = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "kraken.json"))).RootElement;
        Assert.Equal(Path.Combine(dir, "cfg.db"), config.GetProperty("Store").GetProperty("Path").GetString());
        Assert.Equal(Path.Combine(dir, "api-token"), config.GetProperty("Api").GetProperty("TokenFile").GetString());

        // The file as written; only the ports move to free ones on loopback, as a second daemon on this machine would.
        var api = DaemonProcess.FreePort();
        var sync = DaemonProcess.FreePort();
        using var daemon = DaemonProcess.Launch(dir, "root", ["--config", Path.Combine(dir, "kraken.json"), $"--Api:Url=http://127.0.0.1:{api}", $"--Sync:Bind=127.0.0.1:{sync}"], api, sync);
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = new Uri(daemon.ApiUrl) };
        var tree = JsonDocument.Parse(await http.GetStringAsync("/api/v1/tree")).RootElement;
        Assert.Equal("root", tree.GetProperty("role").GetString());
        Assert.Equal(config.GetProperty("NodeId").GetString(), tree.GetProperty("self").GetString());

        // The token init wrote is the one the daemon takes: a write with it succeeds, one without is refused.
        var token = (await File.ReadAllTextAsync(Path.Combine(dir, "api-token"))).Trim();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, await CommandLine.RunAsync(["freeze", "--server", daemon.ApiUrl, "--token-file", Path.Combine(dir, "api-token")], stdout, stderr));
        Assert.Equal("frozen\n", stdout.ToString());
        Assert.Equal(1, await CommandLine.RunAsync(["thaw", "--server", daemon.ApiUrl], TextWriter.Null, stderr));
        Assert.Contains("401", stderr.ToString(), StringComparison.Ordinal);
        Assert.NotEmpty(token);

        Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(30)));
        Assert.True(File.Exists(Path.Combine(dir, "cfg.db")));
    }

    [Theory]
    [InlineData("tier1")]
    [InlineData("leaf")]
    public async Task A_child_configuration_passes_the_daemons_validation_with_its_parents(string role)
    {
        var dir = Path.Combine(Dir, role);
        var (code, output, err) = await Run("init", "--role", role, "--dir", dir, "--node-id", TestDaemon.T1a, "--parent", "127.0.0.1:31415", "--parent", "127.0.0.2:31415");
        Assert.True(code == 0, err);
        Assert.Contains("replace join-secret with the root's", output, StringComparison.Ordinal);

        var options = DaemonOptions.Load(new ConfigurationBuilder().AddJsonFile(Path.Combine(dir, "kraken.json")).Build());
        Assert.False(options.IsRoot);
        Assert.Equal(TestDaemon.T1a, options.NodeId.ToString());
        Assert.Equal(["127.0.0.1:31415", "127.0.0.2:31415"], options.Parents.Select(p => p.ToString()));
        Assert.Equal((await File.ReadAllTextAsync(Path.Combine(dir, "api-token"))).Trim(), options.Token);
        Assert.Equal(role == "tier1", Directory.Exists(Path.Combine(dir, "credentials")));
        if (role == "tier1")
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(dir, "credentials")));
        }
    }

    [Fact]
    public async Task Init_never_overwrites_and_names_what_exists()
    {
        var dir = Path.Combine(Dir, "existing");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "api-token"), "an operator's own token, kept\n");

        var (code, output, err) = await Run("init", "--role", "root", "--dir", dir);

        Assert.Equal(1, code);
        Assert.Empty(output);
        Assert.Contains($"not overwriting {Path.Combine(dir, "api-token")}", err, StringComparison.Ordinal);
        Assert.Contains("nothing was written", err, StringComparison.Ordinal);
        Assert.Equal(["api-token"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Equal("an operator's own token, kept\n", await File.ReadAllTextAsync(Path.Combine(dir, "api-token")));
    }

    [Theory]
    [InlineData("--node-id 'nope' is not a non-nil UUID", "--role", "leaf", "--node-id", "nope")]
    [InlineData("--parent 'nowhere' is not an address:port", "--role", "leaf", "--parent", "nowhere")]
    [InlineData("--parent: a root has no parents", "--role", "root", "--parent", "127.0.0.1:31415")]
    public async Task Bad_values_are_usage_errors_and_write_nothing(string expected, params string[] args)
    {
        var dir = Path.Combine(Dir, "bad");
        var (code, _, err) = await Run(["init", "--dir", dir, .. args]);
        Assert.Equal(2, code);
        Assert.Contains(expected, err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir));
    }
}
