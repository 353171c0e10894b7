// kraken serve --dev as an operator meets it: real processes, the export line, client verbs, auth, SIGTERM, clean-up.
using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kraken.Daemon.Tests.Pxe;

namespace Kraken.Daemon.Tests.Functional;

[Trait("Category", "Network")]
[SupportedOSPlatform("linux")]
public sealed partial class DevModeTests : IDisposable
{
    private const string T1b = "00000000-0000-4000-8000-000000000102";
    private static readonly string[] s_exampleNames = ["root", "t1a", "t1b", "n101", "n102", "n103", "n201", "n202", "n203"];

    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-dev-test-").FullName;
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        Command.KillAll(_processes);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_dev_root_serves_the_example_cluster_to_the_client_verbs_and_cleans_up_on_sigterm()
    {
        // Its own TMPDIR, so the test sees the temporary directory come and go; a working directory without the examples.
        var tmp = Directory.CreateDirectory(Path.Combine(_dir, "tmp")).FullName;
        var cwd = Directory.CreateDirectory(Path.Combine(_dir, "cwd")).FullName;
        var (daemon, log) = Start(["serve", "--dev"], new Dictionary<string, string> { ["TMPDIR"] = tmp }, cwd);
        var (server, tokenFile) = await ExportLineAsync(daemon, log);
        Assert.Equal(IPAddress.Loopback.ToString(), server.Host);
        var devDir = Path.GetDirectoryName(tokenFile)!;
        Assert.Equal(tmp, Path.GetDirectoryName(devDir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));

        // The client verbs need nothing but the two variables.
        var env = new Dictionary<string, string> { ["KRAKEN_SERVER"] = server.ToString(), ["KRAKEN_TOKEN_FILE"] = tokenFile };
        var (code, list) = Kraken(env, cwd, "nodes", "list");
        Assert.True(code == 0, list);
        var names = list.Split('\n').Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).Order(StringComparer.Ordinal);
        Assert.Equal(s_exampleNames.Order(StringComparer.Ordinal), names);

        (code, var set) = Kraken(env, cwd, "node", "set", TestDaemon.N101, "/Nodename=n101-dev");
        Assert.True(code == 0, set);
        using var http = new HttpClient { BaseAddress = server };
        Assert.Equal("n101-dev", await ValueAsync(http, "cfg", TestDaemon.N101, "nodename"));

        // Without the token a write is refused, and changes nothing.
        using var put = await http.PutAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}",
            new StringContent($$"""{"id": "{{TestDaemon.N101}}", "nodename": "intruder"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, put.StatusCode);
        Assert.Equal("n101-dev", await ValueAsync(http, "cfg", TestDaemon.N101, "nodename"));

        // The engine works: the root powers its children on through the simulated driver.
        foreach (var child in new[] { TestDaemon.T1a, T1b })
        {
            await WaitForAsync(async () => await ValueAsync(http, "dsc", child, "physState") == "POWER_ON", TimeSpan.FromSeconds(60), $"{child} POWER_ON in Dsc", log);
        }

        Assert.Equal(0, Terminate(daemon));
        Assert.False(Directory.Exists(devDir), $"{devDir} is still there after the dev root stopped");
        Assert.Empty(Directory.GetFileSystemEntries(tmp));
    }

    [Fact]
    public async Task A_dev_dir_is_kept_and_a_restart_reuses_its_token_and_store()
    {
        var devDir = Path.Combine(_dir, "dev");
        var (daemon, log) = Start(["serve", "--dev", "--dev-dir", devDir], null, _dir);
        var (server, tokenFile) = await ExportLineAsync(daemon, log);
        Assert.Equal(Path.Combine(devDir, "api-token"), tokenFile);
        var token = await File.ReadAllTextAsync(tokenFile);
        var env = new Dictionary<string, string> { ["KRAKEN_SERVER"] = server.ToString(), ["KRAKEN_TOKEN_FILE"] = tokenFile };
        var (code, set) = Kraken(env, _dir, "node", "set", TestDaemon.N101, "/Nodename=kept");
        Assert.True(code == 0, set);
        Assert.Equal(0, Terminate(daemon));
        foreach (var file in new[] { "api-token", "join-secret", "kraken.json", "cluster.json", "cfg.db" })
        {
            Assert.True(File.Exists(Path.Combine(devDir, file)), $"{file} is not kept in {devDir}");
        }

        (daemon, log) = Start(["serve", "--dev", "--dev-dir", devDir], null, _dir);
        (server, tokenFile) = await ExportLineAsync(daemon, log);
        Assert.Equal(token, await File.ReadAllTextAsync(tokenFile));
        using var http = new HttpClient { BaseAddress = server };
        Assert.Equal("kept", await ValueAsync(http, "cfg", TestDaemon.N101, "nodename"));
        Assert.Equal(0, Terminate(daemon));
        Assert.True(File.Exists(Path.Combine(devDir, "cfg.db")));
    }

    [Fact]
    public void Dev_mode_refuses_a_config_file_and_a_dev_dir_without_dev_or_without_a_directory()
    {
        var (code, output) = Kraken(null, _dir, "serve", "--dev", "--config", "/etc/kraken/kraken.json");
        Assert.Equal(2, code);
        Assert.Contains("--dev takes no --config", output, StringComparison.Ordinal);
        (code, output) = Kraken(null, _dir, "serve", "--dev-dir", _dir);
        Assert.Equal(2, code);
        Assert.Contains("--dev-dir goes with --dev", output, StringComparison.Ordinal);
        (code, output) = Kraken(null, _dir, "serve", "--dev", "--dev-dir");
        Assert.Equal(2, code);
        Assert.Contains("--dev-dir needs a value", output, StringComparison.Ordinal);
    }

    private (Process Process, string Log) Start(string[] args, IReadOnlyDictionary<string, string>? environment, string workingDirectory)
    {
        var log = Path.Combine(_dir, $"daemon-{_processes.Count}.log");
        var p = Command.StartLogged("dotnet", [DaemonProcess.KrakenDll, .. args], log, environment: environment, workingDirectory: workingDirectory);
        _processes.Add(p);
        return (p, log);
    }

    /// <summary>The export line's server URL and token file, once the daemon printed it.</summary>
    private static async Task<(Uri Server, string TokenFile)> ExportLineAsync(Process daemon, string log)
    {
        Match? m = null;
        await WaitForAsync(() =>
        {
            m = ExportLine().Match(Command.ReadShared(log));
            return Task.FromResult(m.Success || daemon.HasExited);
        }, TimeSpan.FromSeconds(60), "the export line", log);
        Assert.True(m!.Success, $"the dev root exited without an export line:\n{Command.ReadShared(log)}");
        return (new Uri(m.Groups["server"].Value), m.Groups["token"].Value);
    }

    private static (int Code, string Output) Kraken(IReadOnlyDictionary<string, string>? environment, string workingDirectory, params string[] args) =>
        Command.Run("dotnet", [DaemonProcess.KrakenDll, .. args], TimeSpan.FromMinutes(1), workingDirectory, environment);

    private static async Task<string?> ValueAsync(HttpClient http, string view, string id, string property)
    {
        using var document = JsonDocument.Parse(await http.GetStringAsync($"/api/v1/{view}/nodes/{id}"));
        return document.RootElement.TryGetProperty(property, out var value) ? value.GetString() : null;
    }

    private static int Terminate(Process daemon)
    {
        Command.Check("kill", "-TERM", daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(30)), "the dev root did not stop within 30 s of SIGTERM");
        return daemon.ExitCode;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, string log)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < timeout, $"no {what} within {timeout}:\n{Command.ReadShared(log)}");
            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"^export KRAKEN_SERVER=(?<server>http://\S+) KRAKEN_TOKEN_FILE=(?<token>\S+)$", RegexOptions.Multiline)]
    private static partial Regex ExportLine();
}
