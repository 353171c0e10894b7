// kraken serve --boot for real, without VMs: a tier-1 node in its own namespace "boots" from a root daemon (its
// firmware's part played by udhcpc and curl), joins with the credential its boot got, serves PXE to its leaf from
// its Cfg, and follows the cluster's freeze; a replay of its credential from another host is refused.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using Kraken.Daemon.Tests.Functional;
using Kraken.Daemon.Tests.Pxe;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Boot;

[Trait("Category", "Network")]
[Trait("Category", "Interop")]
[SupportedOSPlatform("linux")]
public sealed class BootModeTests(ITestOutputHelper output) : IDisposable
{
    private const string RootId = "00000000-0000-4000-8000-0000000b0001";
    private const string Tier1Id = "00000000-0000-4000-8000-0000000b0011";
    private const string LeafId = "00000000-0000-4000-8000-0000000b0111";
    private const string RootAddress = "198.18.41.1";
    private const string Tier1Address = "198.18.41.11";
    private const string ThiefAddress = "198.18.41.66";
    private const string DownAddress = "198.18.42.1";
    private const string LeafAddress = "198.18.42.11";
    private const string Tier1Mac = "52:54:00:18:29:0b";
    private const string DownMac = "52:54:00:18:2a:01";
    private const string LeafMac = "52:54:00:18:2a:0b";
    private const string ThiefMac = "52:54:00:18:29:42";
    private const string Token = "boot-mode-test-token-0123456789";

    private readonly string _sfx = Guid.NewGuid().ToString("N")[..5];
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-boot-mode-").FullName;
    private readonly List<Process> _processes = [];
    private readonly List<string> _namespaces = [];

    private string RootNs => $"kbr{_sfx}";

    private string Tier1Ns => $"kbt{_sfx}";

    private string LeafNs => $"kbl{_sfx}";

    private string ThiefNs => $"kbx{_sfx}";

    public void Dispose()
    {
        Command.KillAll(_processes); // each by its own PID

        foreach (var ns in _namespaces)
        {
            // Deleting a namespace removes its veths (and their peers) and its bridge.
            Command.Run("ip", ["netns", "del", ns]);
            var etc = Path.Combine("/etc/netns", ns);
            if (Directory.Exists(etc))
            {
                Directory.Delete(etc, recursive: true);
            }
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_booted_node_joins_with_its_credential_serves_its_leaf_from_Cfg_and_follows_the_freeze()
    {
        CreateNetwork();
        var root = StartRoot();
        await Until(() => Api(RootNs, "/healthz") == "ok", "the root's API", root);

        // The tier-1's firmware: a DHCP exchange as a PXE client (option 93), then its script, kernel, initrd and
        // the bootstrap archive of this boot, all from the root.
        Assert.Equal(0, Udhcpc(Tier1Ns, $"kbu{_sfx}t"));
        await Until(() => Value(RootNs, $"/api/v1/dsc/nodes/{Tier1Id}/values/Extensions/Pxe/State") == "INIT", "PXE INIT at the root", root);
        Check("ip", "-n", Tier1Ns, "addr", "add", $"{Tier1Address}/24", "dev", $"kbu{_sfx}t");
        var script = Curl(Tier1Ns, $"http://{RootAddress}:8080/boot/{Tier1Id}.ipxe");
        var kernelLine = script.Split('\n').Single(l => l.StartsWith("kernel ", StringComparison.Ordinal));
        var arguments = kernelLine[(kernelLine.IndexOf(" console=", StringComparison.Ordinal) + 1)..];
        Assert.Contains($"kraken.mac={Tier1Mac}", arguments, StringComparison.Ordinal);
        Curl(Tier1Ns, $"http://{RootAddress}:8080/vmlinuz");
        Curl(Tier1Ns, $"http://{RootAddress}:8080/initrd.img");
        var archive = Path.Combine(_dir, "bootstrap.cpio");
        Check("ip", "netns", "exec", Tier1Ns, "curl", "-sS", "-f", "-o", archive, $"http://{RootAddress}:8080/boot/bootstrap.cpio");
        await Until(() => Value(RootNs, $"/api/v1/dsc/nodes/{Tier1Id}/values/Extensions/Pxe/State") == "COMP", "PXE COMP at the root", root);

        // Its initramfs would hold the archive's file; here it is unpacked with cpio. No join secret anywhere.
        var unpacked = Path.Combine(_dir, "t1-root");
        Directory.CreateDirectory(unpacked);
        Check("sh", "-c", $"cd '{unpacked}' && cpio -id --quiet < '{archive}'");
        var credential = Path.Combine(unpacked, "etc", "kraken", "bootstrap");
        var stolen = Path.Combine(_dir, "stolen-bootstrap");
        File.Copy(credential, stolen);
        Assert.DoesNotContain(File.ReadAllText(Path.Combine(_dir, "join-secret")).Trim(), File.ReadAllText(credential) + script + arguments, StringComparison.Ordinal);

        // A host that captured the credential presents it first, from its own address: refused.
        var thiefLine = arguments.Replace(Tier1Mac, ThiefMac, StringComparison.Ordinal).Replace($"kraken.ip={Tier1Address}", $"kraken.ip={ThiefAddress}", StringComparison.Ordinal);
        var thief = StartBooted(ThiefNs, "thief", $"{thiefLine} kraken.bootstrap={CopyStolen(stolen)}");
        await Until(() => Metric(RootNs, "kraken_sync_joins_refused_total{reason=\"bootstrap_wrong_host\"}") >= 1, "the replay from another host refused", root);
        Kill(thief);

        // The node itself: it brings up its uplink, joins with the credential, and gets the cluster secret sealed.
        var tier1 = StartBooted(Tier1Ns, "t1", $"{arguments} kraken.bootstrap={credential}");
        await Until(() => Value(RootNs, $"/api/v1/dsc/nodes/{Tier1Id}/values/RunState") == "SYNC", "the booted tier-1 SYNC at the root", root, tier1);
        Assert.False(File.Exists(credential)); // read once and deleted

        // What it serves comes from its Cfg: its downlink is configured, the image fetched, PXE running, reported up.
        await Until(() => Value(RootNs, $"/api/v1/dsc/nodes/{Tier1Id}/values/Services/pxe/State") == "RUN", "the tier-1 serves PXE", root, tier1);
        Assert.Contains($"{DownAddress}/24", Command.Run("ip", ["-n", Tier1Ns, "-o", "-4", "addr", "show", $"kbd{_sfx}t"]).Output, StringComparison.Ordinal);

        // Its leaf boots from it: the tier-1 answers the DHCP exchange and the root sees the leaf's PXE state.
        Assert.Equal(0, Udhcpc(LeafNs, $"kbd{_sfx}l"));
        await Until(() => Value(RootNs, $"/api/v1/dsc/nodes/{LeafId}/values/Extensions/Pxe/State") == "INIT", "the leaf's DHCP exchange with the tier-1, seen at the root", root, tier1);

        // The spent credential, replayed from the thief's host again: refused as used (or from the wrong host).
        var again = StartBooted(ThiefNs, "thief-2", $"{thiefLine} kraken.bootstrap={CopyStolen(stolen)}");
        await Until(
            () => Metric(RootNs, "kraken_sync_joins_refused_total{reason=\"bootstrap_wrong_host\"}") >= 2 || Metric(RootNs, "kraken_sync_joins_refused_total{reason=\"bootstrap_used\"}") >= 1,
            "the second replay refused",
            root);
        Kill(again);

        // Freeze at the root: the tier-1 stops too; thaw: it resumes. A freeze at the tier-1 alone is its own.
        Assert.Equal(0, Command.Run("ip", ["netns", "exec", RootNs, "curl", "-sS", "-f", "-X", "POST", "-H", $"Authorization: Bearer {Token}", "http://127.0.0.1:3141/api/v1/reconcile/freeze"]).ExitCode);
        await Until(() => Json(Tier1Ns, "/api/v1/reconcile") is { } r && r.GetProperty("frozen").GetBoolean() && r.GetProperty("cluster").GetBoolean(), "the tier-1 frozen by the root", root, tier1);
        Assert.Equal(0, Command.Run("ip", ["netns", "exec", RootNs, "curl", "-sS", "-f", "-X", "POST", "-H", $"Authorization: Bearer {Token}", "http://127.0.0.1:3141/api/v1/reconcile/thaw"]).ExitCode);
        await Until(() => Json(Tier1Ns, "/api/v1/reconcile") is { } r && !r.GetProperty("frozen").GetBoolean(), "the tier-1 thawed by the root", root, tier1);
    }

    private void CreateNetwork()
    {
        foreach (var ns in new[] { RootNs, Tier1Ns, LeafNs, ThiefNs })
        {
            Check("ip", "netns", "add", ns);
            _namespaces.Add(ns);
            Check("ip", "-n", ns, "link", "set", "lo", "up");

            // DHCP clients run in these namespaces: they must not touch the host's resolver.
            Directory.CreateDirectory(Path.Combine("/etc/netns", ns));
            File.WriteAllText(Path.Combine("/etc/netns", ns, "resolv.conf"), "");
        }

        // The root's segment: a bridge with the root's address; the tier-1's and the thief's links on it.
        Check("ip", "-n", RootNs, "link", "add", $"kbb{_sfx}", "type", "bridge");
        Check("ip", "-n", RootNs, "addr", "add", $"{RootAddress}/24", "dev", $"kbb{_sfx}");
        Check("ip", "-n", RootNs, "link", "set", $"kbb{_sfx}", "up");
        Veth(RootNs, $"kbu{_sfx}r", Tier1Ns, $"kbu{_sfx}t", Tier1Mac, $"kbb{_sfx}");
        Veth(RootNs, $"kbx{_sfx}r", ThiefNs, $"kbx{_sfx}t", ThiefMac, $"kbb{_sfx}");

        // The tier-1's leaf segment: its downlink NIC (unconfigured: its Cfg says what it gets) and the leaf.
        Check("ip", "-n", Tier1Ns, "link", "add", $"kbd{_sfx}t", "address", DownMac, "type", "veth", "peer", "name", $"kbd{_sfx}l", "address", LeafMac, "netns", LeafNs);
        Check("ip", "-n", LeafNs, "link", "set", $"kbd{_sfx}l", "up");

        TestDaemon.WriteSecret(Path.Combine(_dir, "join-secret"), "boot-mode-test-join-secret-0123456789\n");
        Directory.CreateDirectory(Path.Combine(_dir, "boot"));
        File.WriteAllText(Path.Combine(_dir, "boot", "vmlinuz"), "a kernel, for this test's purposes\n");
        File.WriteAllText(Path.Combine(_dir, "boot", "initrd.img"), "an initramfs, for this test's purposes\n");
        File.WriteAllText(Path.Combine(_dir, "cluster.json"), ClusterJson());
    }

    private void Veth(string ns, string name, string peerNs, string peer, string peerMac, string bridge)
    {
        Check("ip", "-n", ns, "link", "add", name, "type", "veth", "peer", "name", peer, "address", peerMac, "netns", peerNs);
        Check("ip", "-n", ns, "link", "set", name, "master", bridge, "up");

        // The firmware's NIC is up (it has no address yet).
        Check("ip", "-n", peerNs, "link", "set", peer, "up");
    }

    private static string ClusterJson()
    {
        static object Iface(string mac, string ip, string? gateway = null) => gateway is null
            ? new Dictionary<string, object> { ["mac"] = mac, ["ip"] = ip, ["prefix"] = 24 }
            : new Dictionary<string, object> { ["mac"] = mac, ["ip"] = ip, ["prefix"] = 24, ["gateway"] = gateway };
        var nodes = new object[]
        {
            new Dictionary<string, object> { ["id"] = RootId, ["nodename"] = "root", ["runState"] = "SYNC", ["physState"] = "POWER_ON", ["extensions"] = new Dictionary<string, object> { ["IPv4"] = new Dictionary<string, object> { ["interfaces"] = new Dictionary<string, object> { ["kraken"] = Iface("52:54:00:18:29:01", RootAddress) } } } },
            new Dictionary<string, object>
            {
                ["id"] = Tier1Id, ["nodename"] = "t1", ["parentId"] = RootId, ["runState"] = "SYNC", ["physState"] = "POWER_ON",
                ["extensions"] = new Dictionary<string, object>
                {
                    ["IPv4"] = new Dictionary<string, object> { ["interfaces"] = new Dictionary<string, object> { ["kraken"] = Iface(Tier1Mac, Tier1Address), ["pxe"] = Iface(DownMac, DownAddress) } },
                    ["Power"] = new Dictionary<string, object> { ["driver"] = "sim" },
                },
                ["services"] = new Dictionary<string, object> { ["pxe"] = new Dictionary<string, object> { ["state"] = "RUN" }, ["power"] = new Dictionary<string, object> { ["state"] = "RUN" } },
            },
            new Dictionary<string, object>
            {
                ["id"] = LeafId, ["nodename"] = "t1n1", ["parentId"] = Tier1Id,
                ["extensions"] = new Dictionary<string, object> { ["IPv4"] = new Dictionary<string, object> { ["interfaces"] = new Dictionary<string, object> { ["kraken"] = Iface(LeafMac, LeafAddress, DownAddress) } } },
            },
        };
        return JsonSerializer.Serialize(new Dictionary<string, object> { ["format"] = "kraken-state/1", ["nodes"] = nodes });
    }

    private Process StartRoot()
    {
        var config = new Dictionary<string, object?>
        {
            ["NodeId"] = RootId,
            ["Api"] = new Dictionary<string, object?> { ["Url"] = "http://127.0.0.1:3141", ["Token"] = Token },
            ["Sync"] = new Dictionary<string, object?> { ["Bind"] = $"{RootAddress}:31415", ["JoinSecretFile"] = Path.Combine(_dir, "join-secret"), ["HelloInterval"] = "00:00:01", ["DeadInterval"] = "00:00:05" },
            ["Store"] = new Dictionary<string, object?> { ["Path"] = ":memory:", ["Import"] = Path.Combine(_dir, "cluster.json") },
            ["Modules"] = new Dictionary<string, object?>
            {
                ["Pxe"] = new Dictionary<string, object?>
                {
                    ["Interface"] = $"kbb{_sfx}", ["ServerAddress"] = RootAddress, ["LinkKind"] = "AfPacket", ["BootRoot"] = Path.Combine(_dir, "boot"),
                    ["HttpPort"] = 8080, ["RouterAdvertisements"] = false,
                },
                ["Power"] = new Dictionary<string, object?> { ["Drivers"] = new[] { "sim" }, ["PollInterval"] = "00:00:00" },
            },
        };
        var path = Path.Combine(_dir, "root.json");
        File.WriteAllText(path, JsonSerializer.Serialize(config));
        return Start("root", "ip", ["netns", "exec", RootNs, "dotnet", DaemonProcess.KrakenDll, "serve", "--config", path]);
    }

    private Process StartBooted(string ns, string name, string commandLine)
    {
        var cmdline = Path.Combine(_dir, $"{name}.cmdline");
        File.WriteAllText(cmdline, $"BOOT_IMAGE=vmlinuz {commandLine} kraken.api=http://127.0.0.1:3141\n");
        return Start(name, "ip", ["netns", "exec", ns, "env", $"KRAKEN_BOOT_DIR={Path.Combine(_dir, name + "-boot")}", "dotnet", DaemonProcess.KrakenDll, "serve", "--boot", "--cmdline", cmdline]);
    }

    private string CopyStolen(string stolen)
    {
        var copy = stolen + "-" + Guid.NewGuid().ToString("N")[..4];
        File.Copy(stolen, copy);
        return copy;
    }

    private int Udhcpc(string ns, string iface) =>
        Command.Run("ip", ["netns", "exec", ns, "busybox", "udhcpc", "-i", iface, "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", "/bin/true", "-x", "0x5d:0000"], TimeSpan.FromSeconds(30)).ExitCode;

    private static string Curl(string ns, string url) => Check("ip", "netns", "exec", ns, "curl", "-sS", "-f", url);

    private static string Api(string ns, string path) => Command.Run("ip", ["netns", "exec", ns, "curl", "-s", $"http://127.0.0.1:3141{path}"]).Output;

    private static JsonElement? Json(string ns, string path)
    {
        try
        {
            return JsonDocument.Parse(Api(ns, path)).RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Value(string ns, string path) => Json(ns, path) is { } e && e.TryGetProperty("value", out var v) ? v.GetString() : null;

    private static long Metric(string ns, string series)
    {
        var line = Api(ns, "/metrics").Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    private async Task Until(Func<bool> condition, string what, params Process[] watched)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60) || watched.Any(p => p.HasExited))
            {
                Assert.Fail($"not reached: {what} ({clock.Elapsed.TotalSeconds:0} s)\n{Logs()}");
            }

            await Task.Delay(200);
        }

        output.WriteLine($"{what}: {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private string Logs() => string.Join("\n", Directory.GetFiles(_dir, "*.log").Select(f => $"--- {Path.GetFileName(f)}\n{Command.ReadShared(f)}"));

    private static void Kill(Process p)
    {
        if (!p.HasExited)
        {
            p.Kill();
            p.WaitForExit(10_000);
        }
    }

    private static string Check(string file, params string[] args) => Command.Check(file, args);

    private Process Start(string name, string file, string[] args)
    {
        var p = Command.StartLogged(file, args, Path.Combine(_dir, name + ".log"));
        _processes.Add(p);
        return p;
    }
}
