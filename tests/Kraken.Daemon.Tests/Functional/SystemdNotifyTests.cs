// sd_notify: a daemon process started with NOTIFY_SOCKET reports READY=1 when serving, STOPPING=1 on SIGTERM, and
// WATCHDOG=1 keep-alives when systemd asks for them (WATCHDOG_USEC).
using Kraken.Daemon.Tests.Hosting;

namespace Kraken.Daemon.Tests.Functional;

[Trait("Category", "Network")]
public sealed class SystemdNotifyTests : IDisposable
{
    private const string DaemonOptionsMemory = ":memory:";

    private readonly FakeNotifySocket _notify = new();
    private DaemonProcess? _daemon;

    public void Dispose()
    {
        _daemon?.Dispose();
        _notify.Dispose();
    }

    private DaemonProcess Start(Dictionary<string, string> environment)
    {
        environment["NOTIFY_SOCKET"] = _notify.Path;
        return _daemon = DaemonProcess.Start(_notify.Directory, "root", TestDaemon.RootId, [], storePath: DaemonOptionsMemory, environment: environment);
    }

    [Fact]
    public async Task The_daemon_notifies_ready_and_stopping_and_exits_cleanly_on_sigterm()
    {
        var daemon = Start([]);
        var ready = await _notify.ReceiveAsync();
        Assert.Contains("READY=1", ready, StringComparison.Ordinal);
        Assert.Contains($"MAINPID={daemon.Pid}", ready, StringComparison.Ordinal);
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(10));

        // An open event stream must not hold the shutdown up: the daemon ends it.
        using var http = new HttpClient();
        using var stream = await http.GetAsync(daemon.ApiUrl + "/api/v1/events", HttpCompletionOption.ResponseHeadersRead);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var exit = Task.Run(() => daemon.Terminate(TimeSpan.FromSeconds(15)));
        Assert.Equal("STOPPING=1", await _notify.ReceiveAsync());
        Assert.Equal(0, await exit);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"shutdown took {clock.Elapsed} with an event stream open");
        Assert.Contains("API listening on http://127.0.0.1:", daemon.ReadLog(), StringComparison.Ordinal);
        Assert.DoesNotContain("systemd watchdog", daemon.ReadLog(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Asked_for_a_watchdog_the_daemon_sends_keep_alives_at_half_the_interval_until_it_stops()
    {
        // WatchdogSec=0.6s: a keep-alive every 300 ms.
        var daemon = Start(new() { ["WATCHDOG_USEC"] = "600000" });
        Assert.Contains("READY=1", await _notify.ReceiveAsync(), StringComparison.Ordinal);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("WATCHDOG=1", await _notify.ReceiveAsync());
        }

        // The first comes at once, then one per 300 ms; far fewer than one every few milliseconds.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(4 * 300 - 100), $"five keep-alives in {clock.Elapsed}");
        var exit = Task.Run(() => daemon.Terminate(TimeSpan.FromSeconds(15)));
        string message;
        while ((message = await _notify.ReceiveAsync()) == "WATCHDOG=1")
        {
        }

        Assert.Equal("STOPPING=1", message);
        Assert.Equal(0, await exit);
        Assert.Contains("systemd watchdog: 0.6 s", daemon.ReadLog(), StringComparison.Ordinal);
    }
}
