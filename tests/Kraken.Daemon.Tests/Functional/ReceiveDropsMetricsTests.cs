// Datagrams lost to a full socket receive buffer show on /metrics: a real daemon is stopped (SIGSTOP by its PID)
// while its sync UDP port is flooded on loopback, then resumed and scraped.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kraken.Daemon.Tests.Functional;

[Trait("Category", "Network")]
public sealed class ReceiveDropsMetricsTests
{
    [Fact]
    public async Task A_flood_while_the_daemon_is_stopped_shows_on_metrics_as_sync_receive_drops()
    {
        var dir = Directory.CreateTempSubdirectory("kraken-drops-test-").FullName;
        DaemonProcess? daemon = null;
        try
        {
            daemon = DaemonProcess.Start(dir, "root", TestDaemon.RootId, [], storePath: ":memory:");
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
            var series = $"kraken_socket_packets_dropped_total{{local=\"127.0.0.1:{daemon.SyncPort}\",socket=\"sync\"}}";
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Equal(0, Value(await http.GetStringAsync(daemon.ApiUrl + "/metrics"), series));

            Signal("STOP", daemon.Pid);
            try
            {
                // Nobody reads while the process is stopped: past the receive buffer the kernel drops.
                using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                var target = new IPEndPoint(IPAddress.Loopback, daemon.SyncPort);
                var garbage = new byte[1200];
                for (var i = 0; i < 20_000; i++)
                {
                    sender.SendTo(garbage, target);
                }
            }
            finally
            {
                Signal("CONT", daemon.Pid);
            }

            var metrics = await http.GetStringAsync(daemon.ApiUrl + "/metrics");
            Assert.True(Value(metrics, series) > 0, $"no drops on /metrics:\n{string.Join('\n', metrics.Split('\n').Where(l => l.Contains("packets_dropped", StringComparison.Ordinal)))}");
            Assert.Contains("# TYPE kraken_socket_packets_dropped_total counter", metrics, StringComparison.Ordinal);
            Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(15)));
        }
        finally
        {
            daemon?.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The series' value, or -1 when /metrics does not have it.</summary>
    private static double Value(string metrics, string series) =>
        metrics.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal)) is { } line
            ? double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture)
            : -1;

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
