// A TFTP server on loopback over a temporary root directory, removed at dispose.
using System.Net;
using System.Security.Cryptography;
using Kraken.Modules.Pxe.Tftp;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Tests.Pxe.Tftp;

internal sealed class TftpTestServer : IAsyncDisposable
{
    private TftpTestServer(string root, TftpServer server, LogLines log)
    {
        Root = root;
        Server = server;
        Log = log;
    }

    /// <summary>Everything the server logged (Debug and above).</summary>
    public LogLines Log { get; }

    public string Root { get; }

    public TftpServer Server { get; }

    public IPEndPoint EndPoint => Server.LocalEndPoint;

    public int Port => EndPoint.Port;

    public static async Task<TftpTestServer> StartAsync(Action<TftpServerOptions>? configure = null, IPAddress? address = null, string? root = null)
    {
        root ??= NewDirectory();
        var options = new TftpServerOptions { Endpoint = new IPEndPoint(address ?? IPAddress.Loopback, 0) };
        configure?.Invoke(options);
        var log = new LogLines();
        var server = new TftpServer(options, new DirectoryFileSource(root), TimeProvider.System, log);
        await server.StartAsync(CancellationToken.None);
        return new TftpTestServer(root, server, log);
    }

    public static string NewDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kraken-tftp-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Writes a file of random bytes under the root; returns its SHA-256 (hex).</summary>
    public string AddFile(string name, long length, int seed = 1)
    {
        var path = Path.Combine(Root, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var rng = new Random(seed);
        var chunk = new byte[1 << 20];
        using (var f = File.Create(path))
        {
            for (var left = length; left > 0; left -= chunk.Length)
            {
                rng.NextBytes(chunk);
                f.Write(chunk, 0, (int)Math.Min(chunk.Length, left));
            }
        }

        return Sha256(path);
    }

    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f));
    }

    public static string Sha256(byte[] data) => Convert.ToHexString(SHA256.HashData(data));

    /// <summary>Waits until the server has counted the transfers it ran as finished.</summary>
    public async Task WaitForFinishedAsync(long transfers, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (Server.Counters.TransfersCompleted + Server.Counters.TransfersFailed < transfers && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed class LogLines : ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue(formatter(state, exception));

    public bool Contains(string text) => _lines.Any(l => l.Contains(text, StringComparison.Ordinal));
}
