// A qemu VM PXE-boots from a real kraken daemon: DHCP, iPXE script, kernel and initrd all from our services.
using System.Diagnostics;
using System.Text.Json;
using Kraken.Daemon.Tests.Functional;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Pxe;

/// <summary>
/// Creates a server namespace with a bridge (198.18.77.1/24) and a tap, runs <c>kraken serve</c> inside it with
/// <c>Modules:Pxe</c> on the bridge, and boots a TCG qemu VM (Debian's iPXE ROM for virtio-net, <c>-boot n</c>)
/// on the tap. The VM must get its address, its iPXE script, its kernel and its initrd from the daemon and
/// print the marker with its own hostname (which reaches it only through the rendered kernel arguments);
/// the daemon's Dsc must show the boot (PXE state COMP). Run with and without router advertisements, to
/// measure how long iPXE waits for IPv6 autoconfiguration.
/// </summary>
[Trait("Category", "Network")]
[Trait("Category", "Interop")]
public sealed class QemuPxeBootTests(ITestOutputHelper output) : IDisposable
{
    private const string Server = "198.18.77.1";
    private const string VmAddress = "198.18.77.11";
    private const string VmMac = "52:54:00:18:4d:0b";
    private const string VmId = "00000000-0000-4000-8000-00000000c0de";
    private const int ApiPort = 3141;
    private static readonly TimeSpan s_bootTimeout = TimeSpan.FromSeconds(150);

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kraken-pxe-{Guid.NewGuid():N}");
    private readonly List<Process> _processes = [];
    private string? _netns;

    public void Dispose()
    {
        Command.KillAll(_processes); // each by its own PID

        if (_netns is not null)
        {
            // Deleting the namespace removes the bridge and the tap inside it.
            Command.Run("ip", ["netns", "del", _netns]);
        }

        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task Vm_boots_over_the_network_from_the_daemon_to_its_marker(bool routerAdvertisements, bool http)
    {
        // Over HTTP the boot files live in the boot root; without HTTP, the script, kernel and initrd go over TFTP.
        var files = Path.Combine(_dir, http ? "boot" : "tftp");
        Directory.CreateDirectory(Path.Combine(_dir, "boot"));
        Directory.CreateDirectory(Path.Combine(_dir, "tftp"));
        File.Copy(BootImages.Kernel(), Path.Combine(files, "vmlinuz"));
        BootImages.Initramfs(Path.Combine(files, "initrd.img"), _dir);

        var netns = CreateSegment();
        var daemon = StartDaemon(netns, routerAdvertisements, http);
        await WaitForApi(netns, daemon);

        var serial = Path.Combine(_dir, "vm.serial");
        var clock = Stopwatch.StartNew();
        var qemu = Start("ip", ["netns", "exec", netns, "qemu-system-x86_64", "-accel", "tcg", "-machine", "pc", "-m", "256", "-smp", "1",
            "-nographic", "-monitor", "none", "-serial", $"file:{serial}", "-no-reboot",
            "-netdev", $"tap,id=n0,ifname=tap{_suffix},script=no,downscript=no",
            "-device", $"virtio-net-pci,netdev=n0,mac={VmMac}", "-boot", "n"], Path.Combine(_dir, "qemu.log"));

        var marker = $"{BootImages.Marker} vm1";
        while (!Command.ReadShared(serial).Contains(marker, StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < s_bootTimeout, $"no marker within {s_bootTimeout}.\nserial:\n{Command.ReadShared(serial)}\nqemu:\n{Command.ReadShared(Path.Combine(_dir, "qemu.log"))}\ndaemon:\n{Command.ReadShared(Path.Combine(_dir, "daemon.log"))}");
            Assert.False(qemu.HasExited && !Command.ReadShared(serial).Contains(marker, StringComparison.Ordinal), $"qemu exited without the marker.\nserial:\n{Command.ReadShared(serial)}\ndaemon:\n{Command.ReadShared(Path.Combine(_dir, "daemon.log"))}");
            await Task.Delay(200);
        }

        var bootTime = clock.Elapsed;
        output.WriteLine($"router advertisements {(routerAdvertisements ? "on" : "off")}, boot files over {(http ? "HTTP" : "TFTP")}: power-on to marker {bootTime.TotalSeconds:F1} s");

        // The daemon saw the whole boot: the PXE state went to COMP (after INIT) in its Dsc.
        var state = "";
        for (var i = 0; i < 50 && state != "COMP"; i++)
        {
            state = Api(netns, $"/api/v1/dsc/nodes/{VmId}/values/Extensions/Pxe/State");
            await Task.Delay(100);
        }

        Assert.Contains("COMP", state, StringComparison.Ordinal);
        var log = Command.ReadShared(Path.Combine(_dir, "daemon.log"));
        Assert.Contains("got its address", log, StringComparison.Ordinal);
        Assert.Contains("has its boot files", log, StringComparison.Ordinal);

        var metrics = Api(netns, "/metrics");
        Assert.Contains("kraken_dhcp", metrics, StringComparison.Ordinal);
        if (http)
        {
            Assert.Contains("kraken_httpboot_fetches_finished_total{result=\"completed\"} 4", metrics, StringComparison.Ordinal); // script, kernel, initrd, bootstrap archive
        }
        else
        {
            Assert.DoesNotMatch("kraken_httpboot_fetches_finished_total\\{result=\"completed\"\\} [1-9]", metrics);
            Assert.Contains("kraken_tftp", metrics, StringComparison.Ordinal);
        }

        Assert.Equal(routerAdvertisements, System.Text.RegularExpressions.Regex.IsMatch(metrics, "^kraken_pxe_ra_advertisements_sent_total(\\{[^}]*\\})? [1-9]", System.Text.RegularExpressions.RegexOptions.Multiline));
        output.WriteLine(string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("kraken_httpboot", StringComparison.Ordinal) || l.StartsWith("kraken_dhcp", StringComparison.Ordinal) || l.StartsWith("kraken_pxe", StringComparison.Ordinal) || l.StartsWith("kraken_tftp", StringComparison.Ordinal))));
    }

    private string CreateSegment()
    {
        var netns = $"kpxe{_suffix}";
        Command.Check("ip", "netns", "add", netns);
        _netns = netns;
        void In(params string[] args) => Command.Check("ip", ["netns", "exec", netns, .. args]);
        In("ip", "link", "set", "lo", "up");
        In("ip", "link", "add", $"br{_suffix}", "type", "bridge");
        In("ip", "addr", "add", $"{Server}/24", "dev", $"br{_suffix}");
        In("ip", "tuntap", "add", "dev", $"tap{_suffix}", "mode", "tap");
        In("ip", "link", "set", $"tap{_suffix}", "master", $"br{_suffix}");
        In("ip", "link", "set", $"tap{_suffix}", "up");
        In("ip", "link", "set", $"br{_suffix}", "up");
        return netns;
    }

    private Process StartDaemon(string netns, bool routerAdvertisements, bool http)
    {
        var state = new
        {
            format = "kraken-state/1",
            nodes = new object[]
            {
                new
                {
                    id = TestDaemon.RootId, nodename = "pxe-root", runState = "SYNC", physState = "POWER_ON",
                    extensions = new { IPv4 = new { interfaces = new { kraken = new { ip = Server, prefix = 24 } } } },
                },
                new
                {
                    id = VmId, nodename = "vm1", parentId = TestDaemon.RootId,
                    extensions = new
                    {
                        IPv4 = new { interfaces = new { kraken = new { mac = VmMac, ip = VmAddress, prefix = 24, gateway = Server } }, hostname = "vm1" },
                        Pxe = new { state = "COMP" },
                    },
                },
            },
        };
        var statePath = Path.Combine(_dir, "cluster.json");
        File.WriteAllText(statePath, JsonSerializer.Serialize(state));
        var config = new Dictionary<string, object?>
        {
            ["NodeId"] = TestDaemon.RootId,
            ["Role"] = "root",
            ["Api"] = new Dictionary<string, object?> { ["Url"] = $"http://127.0.0.1:{ApiPort}", ["Token"] = TestDaemon.Token },
            ["Sync"] = new Dictionary<string, object?> { ["Bind"] = "127.0.0.1:31415", ["JoinSecret"] = TestDaemon.Secret },
            ["Store"] = new Dictionary<string, object?> { ["Path"] = ":memory:", ["Import"] = statePath },
            ["Modules"] = new Dictionary<string, object?>
            {
                ["Pxe"] = new Dictionary<string, object?>
                {
                    ["Interface"] = $"br{_suffix}",
                    ["ServerAddress"] = Server,
                    ["TftpRoot"] = Path.Combine(_dir, "tftp"),
                    ["BootRoot"] = http ? Path.Combine(_dir, "boot") : null,
                    ["HttpPort"] = 8080,
                    ["RouterAdvertisements"] = routerAdvertisements,
                    ["RequirePowerOn"] = false,
                },
            },
            ["Logging"] = new Dictionary<string, object?> { ["LogLevel"] = new Dictionary<string, object?> { ["Default"] = "Information", ["Microsoft.AspNetCore"] = "Warning" } },
        };
        var configPath = Path.Combine(_dir, "daemon.json");
        File.WriteAllText(configPath, JsonSerializer.Serialize(config));
        return Start("ip", ["netns", "exec", netns, "dotnet", DaemonProcess.KrakenDll, "serve", "--config", configPath], Path.Combine(_dir, "daemon.log"));
    }

    private async Task WaitForApi(string netns, Process daemon)
    {
        var clock = Stopwatch.StartNew();
        while (Command.Run("ip", ["netns", "exec", netns, "curl", "-sf", "-o", "/dev/null", $"http://127.0.0.1:{ApiPort}/healthz"]).ExitCode != 0)
        {
            Assert.False(daemon.HasExited, $"the daemon exited:\n{Command.ReadShared(Path.Combine(_dir, "daemon.log"))}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the daemon did not answer:\n{Command.ReadShared(Path.Combine(_dir, "daemon.log"))}");
            await Task.Delay(200);
        }
    }

    private static string Api(string netns, string path) =>
        Command.Run("ip", ["netns", "exec", netns, "curl", "-s", $"http://127.0.0.1:{ApiPort}{path}"]).Output;

    private Process Start(string file, string[] args, string log)
    {
        var p = Command.StartLogged(file, args, log, closeInput: true);
        _processes.Add(p);
        return p;
    }
}
