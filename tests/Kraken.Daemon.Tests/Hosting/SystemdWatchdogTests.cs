// The watchdog keep-alive against a fake NOTIFY_SOCKET: when systemd asks for it, at what period, and that a daemon
// whose engines do not respond sends none.
using Kraken.Daemon.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Daemon.Tests.Hosting;

public sealed class SystemdWatchdogTests : IDisposable
{
    private readonly FakeNotifySocket _notify = new();

    private string SocketPath => _notify.Path;

    public void Dispose() => _notify.Dispose();

    [Theory]
    [InlineData("30000000", null, 15_000)]
    [InlineData("30000000", "", 15_000)]
    [InlineData("30000000", "4242", 15_000)]
    [InlineData("3", null, 0.001)]
    public void The_period_is_half_of_what_systemd_asks_for(string usec, string? pid, double expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), SystemdWatchdog.PeriodFor(usec, pid, 4242));

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("0", null)]
    [InlineData("1", null)]
    [InlineData("-5", null)]
    [InlineData("15s", null)]
    [InlineData("99999999999999999999999", null)]
    [InlineData("30000000", "1")]
    [InlineData("30000000", "not-a-pid")]
    public void No_keep_alive_unless_systemd_asks_this_very_process(string? usec, string? pid) =>
        Assert.Null(SystemdWatchdog.PeriodFor(usec, pid, 4242));

    [Fact]
    public async Task Keep_alives_come_at_the_period_while_the_probe_answers()
    {
        var probes = 0;
        await using (var watchdog = new SystemdWatchdog(SocketPath, TimeSpan.FromMilliseconds(150), () => { Interlocked.Increment(ref probes); return Task.FromResult(true); }, TimeProvider.System, NullLogger.Instance))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            watchdog.Start();
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal("WATCHDOG=1", await _notify.ReceiveAsync(TimeSpan.FromSeconds(5)));
            }

            // The first at once, then one per period from the start: four take at least three periods.
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(3 * 150 - 30), $"four keep-alives in {clock.Elapsed}");
        }

        Assert.True(probes >= 4);
        // Stopped: nothing more.
        await _notify.DrainAsync();
        Assert.Null(await _notify.ReceiveOrNullAsync(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task A_probe_that_fails_or_never_answers_sends_no_keep_alive_and_a_recovered_one_sends_again()
    {
        var answer = new TaskCompletionSource<bool>();
        var healthy = false;
        await using var watchdog = new SystemdWatchdog(SocketPath, TimeSpan.FromMilliseconds(100), () => healthy ? Task.FromResult(true) : answer.Task, TimeProvider.System, NullLogger.Instance);
        watchdog.Start();
        Assert.Null(await _notify.ReceiveOrNullAsync(TimeSpan.FromMilliseconds(800)));

        answer.SetResult(false);
        Assert.Null(await _notify.ReceiveOrNullAsync(TimeSpan.FromMilliseconds(500)));

        healthy = true;
        Assert.Equal("WATCHDOG=1", await _notify.ReceiveAsync(TimeSpan.FromSeconds(5)));
    }
}
