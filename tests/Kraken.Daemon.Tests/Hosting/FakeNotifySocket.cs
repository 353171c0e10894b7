// A stand-in for systemd's NOTIFY_SOCKET: a unix datagram socket in a directory of its own, read one datagram at a time.
using System.Net.Sockets;
using System.Text;

namespace Kraken.Daemon.Tests.Hosting;

internal sealed class FakeNotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public FakeNotifySocket()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("kraken-notify-test-").FullName;
        Path = System.IO.Path.Combine(Directory, "notify.sock");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
    }

    /// <summary>A directory the test may use for other files too; removed with the socket.</summary>
    public string Directory { get; }

    /// <summary>What NOTIFY_SOCKET names.</summary>
    public string Path { get; }

    /// <summary>The next datagram; throws when none comes within <paramref name="timeout"/> (default 30 s).</summary>
    public async Task<string> ReceiveAsync(TimeSpan? timeout = null) =>
        await ReceiveOrNullAsync(timeout ?? TimeSpan.FromSeconds(30)) ?? throw new TimeoutException($"no datagram within {timeout}");

    /// <summary>The next datagram, or null when none comes within <paramref name="timeout"/>.</summary>
    public async Task<string?> ReceiveOrNullAsync(TimeSpan timeout)
    {
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Drops what has arrived and not been read.</summary>
    public async Task DrainAsync()
    {
        while (_socket.Available > 0)
        {
            await ReceiveAsync(TimeSpan.FromSeconds(1));
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
