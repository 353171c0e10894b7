// An in-process daemon on a loopback port with its own temporary directory, for API, CLI and durability tests.
using System.Net.Http.Headers;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Modules;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests;

internal sealed class TestDaemon : IAsyncDisposable
{
    public const string Token = "test-token-0123456789";
    public const string Secret = "test-join-secret-0123456789";
    public static readonly string RootId = "123e4567-e89b-12d3-a456-426655440000";
    public static readonly string T1a = "00000000-0000-4000-8000-000000000101";
    public static readonly string N101 = "00000000-0000-4000-8000-000000001001";

    private readonly WebApplication _app;
    private readonly bool _ownsDirectory;

    private TestDaemon(WebApplication app, string directory, bool ownsDirectory)
    {
        _app = app;
        Directory = directory;
        _ownsDirectory = ownsDirectory;
        Url = DaemonHost.ListeningUrls(app)[0];
        Http = new HttpClient { BaseAddress = new Uri(Url) };
        Authorized = new HttpClient { BaseAddress = new Uri(Url) };
        Authorized.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public string Url { get; }

    public string Directory { get; }

    public HttpClient Http { get; }

    public HttpClient Authorized { get; }

    public KrakenDaemon Daemon => _app.Services.GetRequiredService<KrakenDaemon>();

    public IServiceProvider Services => _app.Services;

    public static string ExampleCluster => Path.Combine(RepoRoot(), "examples", "cluster-3tier.json");

    /// <summary>Writes a secret file (a token, join secret or credential) readable by its owner only, as the daemon requires.</summary>
    public static void WriteSecret(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>A root holding the example cluster, durable in a fresh directory (or the given one, kept).</summary>
    public static async Task<TestDaemon> StartRootAsync(string? directory = null, bool import = true, Action<IServiceCollection>? services = null, params string[] extra)
    {
        var owns = directory is null;
        directory ??= System.IO.Directory.CreateTempSubdirectory("kraken-daemon-test-").FullName;
        string[] args =
        [
            $"--NodeId={RootId}",
            "--Api:Url=http://127.0.0.1:0",
            $"--Api:Token={Token}",
            "--Sync:Bind=127.0.0.1:0",
            $"--Sync:JoinSecret={Secret}",
            $"--Store:Path={Path.Combine(directory, "cfg.db")}",
            .. import ? new[] { $"--Store:Import={ExampleCluster}" } : [],
            .. extra,
        ];
        var app = DaemonHost.Build(null, args, s =>
        {
            s.AddKrakenModule(new SimPowerModule());
            services?.Invoke(s);
        });
        await app.StartAsync();
        return new TestDaemon(app, directory, owns);
    }

    public static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "kraken.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("kraken.sln not found above the test directory");
    }

    public async Task StopAsync()
    {
        Http.Dispose();
        Authorized.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
            // Stopped already.
        }

        if (_ownsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // A file still open on a slow shutdown; the temp directory is cleaned later.
            }
        }
    }
}
