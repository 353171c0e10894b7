// sd_notify without libsystemd: one datagram per state to the unix socket named by NOTIFY_SOCKET.
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Tells systemd (<c>Type=notify</c>) when the daemon is ready and when it is stopping, and, when systemd asks for a
/// watchdog (<c>WATCHDOG_USEC</c>), sends its keep-alive (<see cref="SystemdWatchdog"/>). Does nothing when
/// <c>NOTIFY_SOCKET</c> is not set. A name starting with '@' is an abstract socket.
/// </summary>
public sealed class SystemdNotifier(IHostApplicationLifetime lifetime, KrakenDaemon daemon, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private IDisposable? _started;
    private IDisposable? _stopping;
    private SystemdWatchdog? _watchdog;

    public static string? SocketPath => Environment.GetEnvironmentVariable("NOTIFY_SOCKET");

    /// <summary>Sends <paramref name="state"/> (e.g. "READY=1"); false when there is no socket or it failed.</summary>
    public static bool Notify(string state) => Notify(SocketPath, state);

    /// <summary>Sends <paramref name="state"/> to the socket <paramref name="path"/>; false when there is none or it failed.</summary>
    public static bool Notify(string? path, string state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (string.IsNullOrEmpty(path))
        {
            return false;
        }

        if (path[0] == '@')
        {
            path = "\0" + path[1..];
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(state));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var socket = SocketPath;
        if (!string.IsNullOrEmpty(socket)
            && SystemdWatchdog.PeriodFor(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId) is { } period)
        {
            _watchdog = new SystemdWatchdog(socket, period, daemon.EnginesRespondAsync, daemon.Time, loggerFactory.CreateLogger("Kraken.Daemon.Systemd"));
        }

        // READY only once the server listens and every hosted service has started; the keep-alives from then on.
        _started = lifetime.ApplicationStarted.Register(() =>
        {
            Notify($"READY=1\nSTATUS=serving\nMAINPID={Environment.ProcessId}");
            _watchdog?.Start();
        });
        _stopping = lifetime.ApplicationStopping.Register(() => Notify("STOPPING=1"));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _started?.Dispose();
        _stopping?.Dispose();
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_watchdog is { } watchdog)
        {
            _watchdog = null;
            await watchdog.DisposeAsync().ConfigureAwait(false);
        }
    }
}
