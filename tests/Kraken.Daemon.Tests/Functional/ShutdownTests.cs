// SIGTERM ends a real daemon process with 0 and a clean log for every module set it can run: no modules, power, PXE
// on each link kind, the full set, and serve --boot; several times each, since the crash this guards was a race.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kraken.Daemon.Tests.Pxe;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Functional;

[Trait("Category", "Network")]
public sealed class ShutdownTests(ITestOutputHelper output) : IDisposable
{
    public enum ModuleSet
    {
        None,
        Power,
        PxePcap,
        PxeAfPacket,
        Full,
        Boot,
    }

    private const int Runs = 3;
    private const string ServerAddress = "198.18.93.1";
    private const string PeerAddress = "198.18.93.11";
    private const string PeerMac = "52:54:00:18:5d:0b";
    private const string BootId = "00000000-0000-4000-8000-0000000d0011";

    private readonly string _sfx = Guid.NewGuid().ToString("N")[..5];
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-shutdown-").FullName;
    private readonly List<Process> _processes = [];
    private string? _netns;

    private string Ns => $"ksd{_sfx}";

    private string Server => $"ksd{_sfx}s";

    private string Peer => $"ksd{_sfx}p";

    public void Dispose()
    {
        Command.KillAll(_processes); // each by its own PID

        if (_netns is not null)
        {
            // Deleting the namespace removes the veth pair in it.
            Command.Run("ip", ["netns", "del", _netns]);
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(ModuleSet.None, "modules []")]
    [InlineData(ModuleSet.Power, "modules [Power]")]
    [InlineData(ModuleSet.PxePcap, "modules [Pxe]")]
    [InlineData(ModuleSet.PxeAfPacket, "modules [Pxe]")]
    [InlineData(ModuleSet.Full, "modules [Power, Pxe]")]
    [InlineData(ModuleSet.Boot, "started as child")]
    public async Task Sigterm_ends_the_daemon_with_0_and_a_clean_log(ModuleSet set, string started)
    {
        CreateNamespace();
        for (var run = 1; run <= Runs; run++)
        {
            var log = Path.Combine(_dir, $"{set}-{run}.log");
            var daemon = Start(set, log);
            await WaitForApi(daemon, log);

            // Let every loop run (the DHCP link's reader, the router advertiser, sync hellos) before the signal.
            await Task.Delay(500);
            var clock = Stopwatch.StartNew();
            var exit = Terminate(daemon);
            var text = Command.ReadShared(log);
            output.WriteLine($"{set} run {run}: exit {exit} after {clock.ElapsedMilliseconds} ms");
            Assert.True(exit == 0, $"{set} run {run}: exit code {exit}\n{text}");
            Assert.Contains(started, text, StringComparison.Ordinal);
            var lines = text.Split('\n');
            Assert.Single(lines, l => l.Contains("Application is shutting down", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)
                || l.Contains("Unhandled exception", StringComparison.Ordinal) || l.Contains("Segmentation fault", StringComparison.Ordinal));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(12), $"{set} run {run}: shutdown took {clock.Elapsed}\n{text}");
        }
    }

    private void CreateNamespace()
    {
        Command.Check("ip", "netns", "add", Ns);
        _netns = Ns;
        Command.Check("ip", "-n", Ns, "link", "set", "lo", "up");
        Command.Check("ip", "-n", Ns, "link", "add", Server, "type", "veth", "peer", "name", Peer, "address", PeerMac);
        Command.Check("ip", "-n", Ns, "addr", "add", $"{ServerAddress}/24", "dev", Server);
        Command.Check("ip", "-n", Ns, "link", "set", Server, "up");
        Command.Check("ip", "-n", Ns, "link", "set", Peer, "up");
        Directory.CreateDirectory(Path.Combine(_dir, "boot"));
        File.WriteAllText(Path.Combine(_dir, "boot", "vmlinuz"), "a kernel, for this test's purposes\n");
        File.WriteAllText(Path.Combine(_dir, "boot", "initrd.img"), "an initramfs, for this test's purposes\n");
    }

    private Process Start(ModuleSet set, string log)
    {
        if (set == ModuleSet.Boot)
        {
            // A booted node with no parent to answer: it configures its uplink, serves its API and keeps trying to join.
            var cmdline = Path.Combine(_dir, "boot.cmdline");
            File.WriteAllText(cmdline, $"BOOT_IMAGE=vmlinuz kraken.id={BootId} kraken.mac={PeerMac} kraken.ip={PeerAddress}/24 kraken.parent={ServerAddress} kraken.api=http://127.0.0.1:3141\n");
            return Launch(log, "env", $"KRAKEN_BOOT_DIR={Path.Combine(_dir, "boot-dir")}", "dotnet", DaemonProcess.KrakenDll, "serve", "--boot", "--cmdline", cmdline, $"--Sync:JoinSecret={TestDaemon.Secret}");
        }

        var modules = new Dictionary<string, object?>();
        if (set is ModuleSet.Power or ModuleSet.Full)
        {
            modules["Power"] = new Dictionary<string, object?> { ["Drivers"] = new[] { "sim" } };
        }

        if (set is ModuleSet.PxePcap or ModuleSet.PxeAfPacket or ModuleSet.Full)
        {
            modules["Pxe"] = new Dictionary<string, object?>
            {
                ["Interface"] = Server,
                ["ServerAddress"] = ServerAddress,
                ["LinkKind"] = set == ModuleSet.PxeAfPacket ? "AfPacket" : "Pcap",
                ["BootRoot"] = Path.Combine(_dir, "boot"),
                ["TftpRoot"] = Path.Combine(_dir, "boot"),
                ["HttpPort"] = 8080,
            };
        }

        if (set == ModuleSet.Full)
        {
            modules["Join"] = new Dictionary<string, object?> { ["Timeout"] = "00:01:00" };
        }

        var config = new Dictionary<string, object?>
        {
            ["NodeId"] = TestDaemon.RootId,
            ["Role"] = "root",
            ["Api"] = new Dictionary<string, object?> { ["Url"] = "http://127.0.0.1:3141", ["Token"] = TestDaemon.Token },
            ["Sync"] = new Dictionary<string, object?> { ["Bind"] = "127.0.0.1:31415", ["JoinSecret"] = TestDaemon.Secret },
            ["Store"] = new Dictionary<string, object?> { ["Path"] = Path.Combine(_dir, $"cfg-{Guid.NewGuid():N}.db") },
            ["Modules"] = modules,
            ["Logging"] = new Dictionary<string, object?> { ["LogLevel"] = new Dictionary<string, object?> { ["Default"] = "Information", ["Microsoft.AspNetCore"] = "Warning" } },
        };
        var path = Path.Combine(_dir, $"{set}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(config));
        return Launch(log, "dotnet", DaemonProcess.KrakenDll, "serve", "--config", path);
    }

    private Process Launch(string log, params string[] command)
    {
        // ip netns exec execs the command: the recorded PID is the daemon's.
        var p = Command.StartLogged("ip", ["netns", "exec", Ns, .. command], log);
        _processes.Add(p);
        return p;
    }

    private async Task WaitForApi(Process daemon, string log)
    {
        var clock = Stopwatch.StartNew();
        while (Command.Run("ip", ["netns", "exec", Ns, "curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:3141/healthz"]).ExitCode != 0)
        {
            Assert.False(daemon.HasExited, $"the daemon exited:\n{Command.ReadShared(log)}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"the daemon did not answer:\n{Command.ReadShared(log)}");
            await Task.Delay(200);
        }
    }

    /// <summary>SIGTERM by the recorded PID; the exit code (a signal's death is 128 + its number).</summary>
    private static int Terminate(Process daemon)
    {
        using (var kill = Process.Start("kill", ["-TERM", daemon.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        if (!daemon.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            daemon.Kill();
            daemon.WaitForExit();
            return -1;
        }

        daemon.WaitForExit(); // the output readers drain
        return daemon.ExitCode;
    }
}
