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

    /// <summary>The configuration key that picks the console log's format (docs/daemon.md, "Logs").</summary>
    public const string ConsoleFormatterKey = "Logging:Console:FormatterName";

    /// <summary>
    /// Builds (does not start) a daemon from a JSON config file, then environment variables, then
    /// command-line overrides (<c>--Api:Url=...</c>), later sources winning. Throws
    /// <see cref="DaemonConfigException"/> naming the key when a value is bad.
    /// </summary>
    public static WebApplication Build(string? configFile, string[] overrides, Action<IServiceCollection>? configureServices = null) =>
        Build(configFile, overrides, configureServices, boot: null);

    /// <summary>
    /// Builds a daemon whose configuration starts from <paramref name="boot"/> (kernel arguments and the bootstrap
    /// credential of a node booted over the network) when given, then takes the file, environment and overrides.
    /// </summary>
    internal static WebApplication Build(string? configFile, string[] overrides, Action<IServiceCollection>? configureServices, Boot.BootStart? boot)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        if (boot is not null)
        {
            builder.Configuration.AddInMemoryCollection(boot.Configuration());
        }

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
        try
        {
            builder.Configuration.AddCommandLine(overrides);
        }
        catch (FormatException ex)
        {
            // "-x" with no switch mapping, say: every override is --Section:Key=value.
            throw new DaemonConfigException("--Section:Key=value", $"{ex.Message} Overrides are written --Section:Key=value.");
        }

        builder.Configuration.AddInMemoryCollection(DaemonOptions.DurationValues(builder.Configuration));
        var options = DaemonOptions.Load(builder.Configuration, boot?.Arguments, boot?.Credential);

        builder.Logging.ClearProviders();
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        AddConsoleLog(builder.Logging, builder.Configuration[ConsoleFormatterKey]);

        // A Kestrel section with endpoints (HTTPS with certificate files, say) replaces Api:Url; the slim builder
        // reads the section, and HTTPS endpoints in it need the HTTPS configuration loader.
        builder.WebHost.UseKestrelHttpsConfiguration();
        if (!KestrelSection.HasEndpoints(builder.Configuration))
        {
            builder.WebHost.UseUrls(options.Api.Url);
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<KrakenDaemon>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<KrakenDaemon>());
        builder.Services.AddHostedService<SystemdNotifier>();
        builder.Services.AddSingleton<EventHub>();
        builder.Services.AddSingleton<LargeResponseGate>();
        builder.Services.AddSingleton(sp => new CfgNeighbourhood(sp.GetRequiredService<KrakenDaemon>().Store));
        builder.Services.AddSingleton<DaemonGauges>();
        builder.Services.AddSingleton(sp => new PrometheusExporter(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, DaemonJsonContext.Default));
        builder.Services.AddProblemDetails();
        builder.Services.AddKrakenApiDocument();
        builder.Services.AddBuiltInModules();
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();

        // Listen from the start: counters incremented before the first scrape must count, and every engine and
        // module created from here on registers its series (at zero) with a listening exporter.
        app.Services.GetRequiredService<PrometheusExporter>();
        app.Services.GetRequiredService<DaemonGauges>();

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
    /// The console log's format: <c>simple</c> (one line, UTC timestamps), <c>json</c> (one JSON object a line) or
    /// <c>systemd</c> (<c>&lt;6&gt;</c> priority prefixes for journald); default <c>systemd</c> under journald
    /// (<c>JOURNAL_STREAM</c> set) and <c>simple</c> otherwise.
    /// </summary>
    private static void AddConsoleLog(ILoggingBuilder logging, string? formatter)
    {
        const string Timestamp = "yyyy-MM-ddTHH:mm:ss.fffZ";
        switch (formatter?.Trim().ToLowerInvariant())
        {
            case null or "":
                AddConsoleLog(logging, Environment.GetEnvironmentVariable("JOURNAL_STREAM") is null ? "simple" : "systemd");
                return;
            case "simple":
                logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = Timestamp + " ";
                    o.UseUtcTimestamp = true;
                });
                return;
            case "json":
                logging.AddJsonConsole(o =>
                {
                    o.TimestampFormat = Timestamp;
                    o.UseUtcTimestamp = true;
                });
                return;
            case "systemd":
                // Journald adds its own timestamps and files each line by its priority.
                logging.AddSystemdConsole();
                return;
            default:
                throw new DaemonConfigException(ConsoleFormatterKey, $"'{formatter}' is not a console log format; use simple, json or systemd");
        }
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
    public static Task<int> ServeAsync(string? configFile, string[] overrides, TextWriter stderr) =>
        ServeAsync(configFile, overrides, stderr, boot: null);

    /// <summary>Runs <c>kraken serve</c> with services of the caller's added (dev mode's export line).</summary>
    internal static Task<int> ServeAsync(string? configFile, string[] overrides, TextWriter stderr, Action<IServiceCollection> configureServices) =>
        ServeAsync(configFile, overrides, stderr, boot: null, configureServices);

    /// <summary>
    /// <c>kraken serve --boot</c>: the daemon of a node booted over the network, with no configuration file. Reads the
    /// <c>kraken.*</c> kernel arguments (<paramref name="commandLine"/>, default /proc/cmdline), configures the uplink
    /// they name, takes the bootstrap credential its parent put into this boot, and joins.
    /// </summary>
    public static async Task<int> ServeBootAsync(string? commandLine, string[] overrides, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        Boot.BootStart boot;
        try
        {
            boot = await Boot.BootStart.PrepareAsync(commandLine ?? Boot.KernelArguments.CommandLinePath, overrides, stderr, cancellationToken).ConfigureAwait(false);
        }
        catch (DaemonConfigException ex)
        {
            await stderr.WriteLineAsync($"kraken serve --boot: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (Exception ex) when (ex is Net.Link.NetworkConfigurationException or IOException or UnauthorizedAccessException or TimeoutException)
        {
            await stderr.WriteLineAsync($"kraken serve --boot: cannot bring the uplink up: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        return await ServeAsync(null, overrides, stderr, boot).ConfigureAwait(false);
    }

    private static async Task<int> ServeAsync(string? configFile, string[] overrides, TextWriter stderr, Boot.BootStart? boot, Action<IServiceCollection>? configureServices = null)
    {
        WebApplication app;
        try
        {
            app = Build(configFile, overrides, configureServices, boot);
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
