// sd_notify without libsystemd: one datagram per state to the unix socket named by NOTIFY_SOCKET.
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Tells systemd (<c>Type=notify</c>) when the daemon is ready and when it is stopping. Does nothing when
/// <c>NOTIFY_SOCKET</c> is not set. A name starting with '@' is an abstract socket.
/// </summary>
public sealed class SystemdNotifier(IHostApplicationLifetime lifetime) : IHostedService
{
    private IDisposable? _started;
    private IDisposable? _stopping;

    public static string? SocketPath => Environment.GetEnvironmentVariable("NOTIFY_SOCKET");

    /// <summary>Sends <paramref name="state"/> (e.g. "READY=1"); false when there is no socket or it failed.</summary>
    public static bool Notify(string state)
    {
        var path = SocketPath;
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
        // READY only once the server listens and every hosted service has started.
        _started = lifetime.ApplicationStarted.Register(() => Notify($"READY=1\nSTATUS=serving\nMAINPID={Environment.ProcessId}"));
        _stopping = lifetime.ApplicationStopping.Register(() => Notify("STOPPING=1"));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started?.Dispose();
        _stopping?.Dispose();
        return Task.CompletedTask;
    }
}
