// A live daemon's /metrics, with every module (power, PXE with DHCP, TFTP, HTTP boot and router advertisements) in
// a network namespace of its own: promtool's linter finds nothing, every counter is there before its first event,
// and every series the shipped Grafana dashboard queries exists.
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kraken.Daemon.Tests.Functional;
using Kraken.Daemon.Tests.Pxe;

namespace Kraken.Daemon.Tests.Metrics;

[Trait("Category", "Network")]
public sealed partial class LiveMetricsTests(LiveMetricsTests.FullDaemon daemon) : IClassFixture<LiveMetricsTests.FullDaemon>
{
    [Fact]
    public void Promtool_check_metrics_finds_nothing()
    {
        var file = Path.Combine(daemon.Directory, "metrics.txt");
        File.WriteAllText(file, daemon.Metrics);
        var (exit, output) = Command.Run("sh", ["-c", $"promtool check metrics < '{file}'"]);
        Assert.True(exit == 0 && output.Length == 0, $"promtool check metrics: exit {exit}\n{output}");

        // What it checked holds what it should: histograms with buckets and _seconds, the process and runtime.
        Assert.Contains("# TYPE http_server_request_duration_seconds histogram", daemon.Metrics, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds_bucket{", daemon.Metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE kraken_power_operation_duration_seconds histogram", daemon.Metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE kraken_reconcile_step_duration_seconds histogram", daemon.Metrics, StringComparison.Ordinal);
        Assert.Contains("\nprocess_open_fds ", daemon.Metrics, StringComparison.Ordinal);
        Assert.Contains("\ndotnet_gc_heap_total_allocated_bytes_total ", daemon.Metrics, StringComparison.Ordinal);
        Assert.Matches("\nkraken_build_info\\{build=\"jit\",revision=\"[^\"]*\",runtime=\"[^\"]+\",version=\"[^\"]+\"\\} 1\n", daemon.Metrics);
    }

    [Fact]
    public void Every_counter_is_there_at_zero_before_its_first_event()
    {
        var lines = daemon.Metrics.Split('\n');
        var counters = lines.Where(l => l.StartsWith("# TYPE kraken_", StringComparison.Ordinal) && l.EndsWith(" counter", StringComparison.Ordinal))
            .Select(l => l.Split(' ')[2]).ToList();
        Assert.True(counters.Count > 40, $"only {counters.Count} counters");
        var missing = counters.Where(c => !lines.Any(l => l.StartsWith(c + " ", StringComparison.Ordinal) || l.StartsWith(c + "{", StringComparison.Ordinal))).ToList();
        Assert.True(missing.Count == 0, "counters without a series: " + string.Join(", ", missing));

        // Label values known in advance are there too; labels carry no namespace.
        Assert.Contains($"kraken_dhcp_frames_dropped_total{{interface=\"{daemon.Interface}\",reason=\"unknown_client\"}} 0", lines);
        Assert.Contains($"kraken_dhcp_messages_received_total{{interface=\"{daemon.Interface}\",type=\"INFORM\"}} 0", lines);
        Assert.Contains("kraken_power_calls_total{driver=\"sim\"} 0", lines);
        Assert.Contains("kraken_tftp_packets_dropped_total{reason=\"client_limit\"} 0", lines);
        Assert.Contains("kraken_httpboot_requests_refused_total{reason=\"not_found\"} 0", lines);
        Assert.Contains("kraken_pxe_ra_advertisements_sent_total 0", lines);
        Assert.Contains("kraken_sync_joins_failed_total 0", lines);
        Assert.Contains("kraken_sync_frames_dropped_total{reason=\"bad_mac\"} 0", lines);
        Assert.Contains("kraken_adjacencies{role=\"child\",state=\"full\"} 0", lines);
        Assert.DoesNotMatch("[{,]kraken_[a-z_]+=", daemon.Metrics);
    }

    [Fact]
    public void Every_series_the_grafana_dashboard_queries_is_on_metrics()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestDaemon.RepoRoot(), "packaging", "grafana-dashboard.json")));
        var families = daemon.Metrics.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')).ToDictionary(f => f[2], f => f[3]);
        var queried = new HashSet<string>(StringComparer.Ordinal);
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            foreach (var target in targets.EnumerateArray())
            {
                foreach (Match m in SeriesName().Matches(target.GetProperty("expr").GetString()!))
                {
                    queried.Add(m.Value);
                }
            }
        }

        Assert.True(queried.Count >= 15, $"only {queried.Count} series queried: {string.Join(", ", queried)}");
        var absent = queried.Where(name => !families.ContainsKey(name)
            && !(Regex.Match(name, "^(.+)_(bucket|sum|count)$") is { Success: true } h && families.GetValueOrDefault(h.Groups[1].Value) == "histogram")).ToList();
        Assert.True(absent.Count == 0, "queried by the dashboard, not on /metrics: " + string.Join(", ", absent));
    }

    [GeneratedRegex(@"\b(?:kraken|process|dotnet|http_server)_[a-z0-9_]+\b")]
    private static partial Regex SeriesName();

    /// <summary>A root with power (simulated driver) and PXE on a veth pair in a namespace; /metrics read once it runs.</summary>
    public sealed class FullDaemon : IAsyncLifetime
    {
        private const string ServerAddress = "198.18.95.1";
        private readonly string _sfx = Guid.NewGuid().ToString("N")[..5];
        private Process? _process;
        private bool _namespace;

        public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("kraken-metrics-").FullName;

        public string Interface => $"kmx{_sfx}s";

        public string Metrics { get; private set; } = "";

        private string Ns => $"kmx{_sfx}";

        public async Task InitializeAsync()
        {
            Command.Check("ip", "netns", "add", Ns);
            _namespace = true;
            Command.Check("ip", "-n", Ns, "link", "set", "lo", "up");
            Command.Check("ip", "-n", Ns, "link", "add", Interface, "type", "veth", "peer", "name", $"kmx{_sfx}p");
            Command.Check("ip", "-n", Ns, "addr", "add", $"{ServerAddress}/24", "dev", Interface);
            Command.Check("ip", "-n", Ns, "link", "set", Interface, "up");
            Command.Check("ip", "-n", Ns, "link", "set", $"kmx{_sfx}p", "up");
            var boot = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "boot")).FullName;
            File.WriteAllText(Path.Combine(boot, "vmlinuz"), "a kernel, for this test's purposes\n");
            File.WriteAllText(Path.Combine(boot, "initrd.img"), "an initramfs, for this test's purposes\n");
            var config = new Dictionary<string, object?>
            {
                ["NodeId"] = TestDaemon.RootId,
                ["Role"] = "root",
                ["Api"] = new Dictionary<string, object?> { ["Url"] = "http://127.0.0.1:3141", ["Token"] = TestDaemon.Token },
                ["Sync"] = new Dictionary<string, object?> { ["Bind"] = "127.0.0.1:31415", ["JoinSecret"] = TestDaemon.Secret },
                ["Store"] = new Dictionary<string, object?> { ["Path"] = Path.Combine(Directory, "cfg.db") },
                ["Modules"] = new Dictionary<string, object?>
                {
                    ["Power"] = new Dictionary<string, object?> { ["Drivers"] = new[] { "sim" } },
                    ["Pxe"] = new Dictionary<string, object?>
                    {
                        ["Interface"] = Interface,
                        ["ServerAddress"] = ServerAddress,
                        ["LinkKind"] = "AfPacket",
                        ["BootRoot"] = boot,
                        ["TftpRoot"] = boot,
                        ["HttpPort"] = 8080,
                    },
                },
                ["Logging"] = new Dictionary<string, object?> { ["LogLevel"] = new Dictionary<string, object?> { ["Default"] = "Warning" } },
            };
            var path = Path.Combine(Directory, "daemon.json");
            File.WriteAllText(path, JsonSerializer.Serialize(config));
            var log = Path.Combine(Directory, "daemon.log");
            _process = Command.StartLogged("ip", ["netns", "exec", Ns, "dotnet", DaemonProcess.KrakenDll, "serve", "--config", path], log);
            var clock = Stopwatch.StartNew();
            while (Curl("/healthz").ExitCode != 0)
            {
                if (_process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(90))
                {
                    throw new InvalidOperationException($"the daemon did not answer:\n{Command.ReadShared(log)}");
                }

                await Task.Delay(200);
            }

            // A few API requests, so the request histogram has points.
            Curl("/api/v1/cfg/nodes");
            Curl("/api/v1/tree");
            var (exit, text) = Curl("/metrics");
            Metrics = exit == 0 ? text + "\n" : throw new InvalidOperationException($"GET /metrics failed: {text}");
        }

        public Task DisposeAsync()
        {
            if (_process is not null)
            {
                Command.KillAll([_process]);
            }

            if (_namespace)
            {
                // Deleting the namespace removes the veth pair in it.
                Command.Run("ip", ["netns", "del", Ns]);
            }

            System.IO.Directory.Delete(Directory, recursive: true);
            return Task.CompletedTask;
        }

        private (int ExitCode, string Output) Curl(string path) =>
            Command.Run("ip", ["netns", "exec", Ns, "curl", "-sf", $"http://127.0.0.1:3141{path}"]);
    }
}
