// Builds the daemon's web host: configuration sources, validated options, logging, services and endpoints.
using Kraken.Daemon.Api;
using Kraken.Daemon.Events;
using Kraken.Daemon.Metrics;
using Kraken.Daemon.Modules;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Hosting;

public static partial class DaemonHost
{
    /// <summary>Environment variables with this prefix override the file (KRAKEN_Api__Token, KRAKEN_Sync__Parents__0).</summary>
    public const string EnvironmentPrefix = "KRAKEN_";

    /// <summary>
    /// Builds (does not start) a daemon from a JSON config file, then environment variables, then
    /// command-line overrides (<c>--Api:Url=...</c>), later sources winning. Throws
    /// <see cref="DaemonConfigException"/> naming the key when a value is bad.
    /// </summary>
    public static WebApplication Build(string? configFile, string[] overrides, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        if (configFile is not null)
        {
            if (!File.Exists(configFile))
            {
                throw new DaemonConfigException("--config", $"'{configFile}' does not exist");
            }

            try
            {
                builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
            }
            catch (InvalidDataException ex)
            {
                throw new DaemonConfigException("--config", $"'{configFile}' is not valid JSON: {ex.InnerException?.Message ?? ex.Message}");
            }
        }

        builder.Configuration.AddInMemoryCollection(EnvironmentOverrides());
        builder.Configuration.AddCommandLine(overrides);
        var options = DaemonOptions.Load(builder.Configuration);

        builder.Logging.ClearProviders();
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        if (Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null)
        {
            // Under systemd: "<6>message" lines that journald files by priority; no timestamps (journald adds them).
            builder.Logging.AddSystemdConsole();
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            });
        }

        builder.WebHost.UseUrls(options.Api.Url);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<KrakenDaemon>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<KrakenDaemon>());
        builder.Services.AddHostedService<SystemdNotifier>();
        builder.Services.AddSingleton<EventHub>();
        builder.Services.AddSingleton(sp => new CfgNeighbourhood(sp.GetRequiredService<KrakenDaemon>().Store));
        builder.Services.AddSingleton<DaemonGauges>();
        builder.Services.AddSingleton<PrometheusExporter>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, DaemonJsonContext.Default));
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi(ApiDocument.Name, ApiDocument.Configure);
        builder.Services.AddBuiltInModules();
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();

        // Listen from the start: counters incremented before the first scrape must count.
        app.Services.GetRequiredService<PrometheusExporter>();

        // Anything unexpected (the durable store failing, say) is a 500 problem, never a half-written answer.
        app.UseExceptionHandler();
        app.UseWebSockets();
        app.UseStatusCodePages();
        app.MapKrakenApi();
        app.MapPrometheus();
        app.MapOpenApi(ApiDocument.Path);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Kraken.Daemon");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            foreach (var address in ListeningUrls(app))
            {
                Log.Listening(logger, address);
            }
        });
        return app;
    }

    /// <summary>
    /// KRAKEN_&lt;Section&gt;__&lt;Key&gt; variables (and KRAKEN_NodeId, KRAKEN_Role) as configuration keys. Other
    /// KRAKEN_ variables belong to the client verbs (KRAKEN_SERVER, KRAKEN_TOKEN) and tools, not to the daemon.
    /// </summary>
    internal static IEnumerable<KeyValuePair<string, string?>> EnvironmentOverrides()
    {
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var name = (string)e.Key;
            if (!name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var key = name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal);
            var section = key.Split(':')[0];
            if (DaemonOptions.IsSection(section) && (key.Contains(':', StringComparison.Ordinal) || section.Equals("NodeId", StringComparison.OrdinalIgnoreCase) || section.Equals("Role", StringComparison.OrdinalIgnoreCase)))
            {
                yield return new(key, (string?)e.Value);
            }
        }
    }

    /// <summary>The URLs the API listens on, with the ports the server picked.</summary>
    public static IReadOnlyList<string> ListeningUrls(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];
    }

    /// <summary>Runs <c>kraken serve</c> until SIGTERM/SIGINT; the exit code.</summary>
    public static async Task<int> ServeAsync(string? configFile, string[] overrides, TextWriter stderr)
    {
        WebApplication app;
        try
        {
            app = Build(configFile, overrides);
        }
        catch (DaemonConfigException ex)
        {
            await stderr.WriteLineAsync($"kraken serve: configuration error: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ex is DaemonConfigException or IOException or System.Net.Sockets.SocketException or Tree.StateFiles.StateFileException or Tree.Reconcile.ModuleRegistrationException)
        {
            await stderr.WriteLineAsync($"kraken serve: cannot start: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        finally
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "API listening on {Url}")]
        public static partial void Listening(ILogger logger, string url);
    }
}
