// sd_notify: a daemon process started with NOTIFY_SOCKET reports READY=1 when serving and STOPPING=1 on SIGTERM.
using System.Net.Sockets;
using System.Text;

namespace Kraken.Daemon.Tests.Functional;

[Trait("Category", "Network")]
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task The_daemon_notifies_ready_and_stopping_and_exits_cleanly_on_sigterm()
    {
        var dir = Directory.CreateTempSubdirectory("kraken-notify-test-").FullName;
        var socketPath = Path.Combine(dir, "notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        DaemonProcess? daemon = null;
        try
        {
            daemon = DaemonProcess.Start(dir, "root", TestDaemon.RootId, [], storePath: DaemonOptionsMemory, environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath });
            var ready = await Receive(socket);
            Assert.Contains("READY=1", ready, StringComparison.Ordinal);
            Assert.Contains($"MAINPID={daemon.Pid}", ready, StringComparison.Ordinal);
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(10));

            // An open event stream must not hold the shutdown up: the daemon ends it.
            using var http = new HttpClient();
            using var stream = await http.GetAsync(daemon.ApiUrl + "/api/v1/events", HttpCompletionOption.ResponseHeadersRead);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var exit = Task.Run(() => daemon.Terminate(TimeSpan.FromSeconds(15)));
            Assert.Equal("STOPPING=1", await Receive(socket));
            Assert.Equal(0, await exit);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"shutdown took {clock.Elapsed} with an event stream open");
            Assert.Contains("API listening on http://127.0.0.1:", daemon.ReadLog(), StringComparison.Ordinal);
        }
        finally
        {
            daemon?.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    private const string DaemonOptionsMemory = ":memory:";

    private static async Task<string> Receive(Socket socket)
    {
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
