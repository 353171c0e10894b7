// The systemd watchdog keep-alive: WATCHDOG=1 at half of WATCHDOG_USEC, sent only while the engines run work.
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Sends <c>WATCHDOG=1</c> to <see cref="SocketPath"/> every <see cref="Period"/> (half the interval systemd asked
/// for), each time only after <c>probe</c> said the daemon works within that period. A daemon whose engines are
/// stuck therefore stops the keep-alives, and systemd restarts it after <c>WatchdogSec=</c>.
/// </summary>
internal sealed partial class SystemdWatchdog(string socketPath, TimeSpan period, Func<Task<bool>> probe, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public string SocketPath { get; } = socketPath;

    public TimeSpan Period { get; } = period > TimeSpan.Zero ? period : throw new ArgumentOutOfRangeException(nameof(period), period, "The keep-alive period must be positive.");

    /// <summary>
    /// The keep-alive period systemd asks of this process: half of <c>WATCHDOG_USEC</c>, as sd_watchdog_enabled(3)
    /// advises; null when it asks nothing, the value is not a number of microseconds above 1, or <c>WATCHDOG_PID</c>
    /// names another process (a child that inherited the variables).
    /// </summary>
    public static TimeSpan? PeriodFor(string? watchdogUsec, string? watchdogPid, int processId)
    {
        if (!ulong.TryParse(watchdogUsec, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var usec) || usec < 2)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(watchdogPid)
            && (!int.TryParse(watchdogPid, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) || pid != processId))
        {
            return null;
        }

        // TimeSpan holds 100 ns ticks; an interval beyond what it can hold is as good as none.
        return usec / 2 > (ulong)(TimeSpan.MaxValue.Ticks / 10) ? null : TimeSpan.FromTicks((long)(usec / 2) * 10);
    }

    public void Start()
    {
        _loop ??= RunAsync(_stop.Token);
        Log.Started(logger, Period.TotalSeconds * 2);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        var missed = 0;
        try
        {
            do
            {
                if (await RespondsAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (missed > 0)
                    {
                        Log.Recovered(logger, missed);
                        missed = 0;
                    }

                    SystemdNotifier.Notify(SocketPath, "WATCHDOG=1");
                }
                else if (missed++ == 0)
                {
                    Log.Missed(logger, Period.TotalSeconds);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>The probe's answer, false when it did not come within one period.</summary>
    private async Task<bool> RespondsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await probe().WaitAsync(Period, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "systemd watchdog: {Seconds:0.###} s; keep-alive sent at half of it while the engines respond")]
        public static partial void Started(ILogger logger, double seconds);

        [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "systemd watchdog: the engines did not respond within {Seconds:0.###} s; no keep-alive sent (systemd restarts the daemon if this lasts)")]
        public static partial void Missed(ILogger logger, double seconds);

        [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "systemd watchdog: the engines respond again after {Missed} missed keep-alive(s)")]
        public static partial void Recovered(ILogger logger, int missed);
    }
}
