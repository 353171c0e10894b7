// kraken serve --dev: a throw-away root on loopback with the example cluster, simulated power and a generated token.
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Prepares a directory (a new temporary one, removed at exit, or <c>--dev-dir</c>, kept) with a root's
/// configuration, a random API token and join secret (mode 0600), and the example cluster with every node's power
/// driver set to <c>sim</c>; runs the root from it and prints the <c>export</c> line the client verbs need once the API
/// listens. Files already in a kept directory are used as they are, so its token and store survive restarts.
/// </summary>
internal static class DevMode
{
    public const string ConfigFile = "kraken.json";
    public const string TokenFile = "api-token";
    public const string SecretFile = "join-secret";
    public const string ClusterFile = "cluster.json";
    public const string StoreFile = "cfg.db";

    /// <summary>The example cluster (examples/cluster-3tier.json), built into the executable.</summary>
    private const string ClusterResource = "Kraken.Daemon.cluster-3tier.json";

    private const UnixFileMode PrivateDirectory = SecretFiles.PrivateDirectory;

    /// <summary>Runs the dev root until SIGTERM/SIGINT; the exit code (2 for a bad directory or configuration).</summary>
    public static async Task<int> ServeAsync(string? keptDirectory, string[] overrides, TextWriter stdout, TextWriter stderr)
    {
        string directory;
        try
        {
            directory = keptDirectory is null
                ? Directory.CreateTempSubdirectory("kraken-dev-").FullName
                : Path.GetFullPath(keptDirectory);
            if (keptDirectory is not null && !Directory.Exists(directory))
            {
                _ = OperatingSystem.IsWindows() ? Directory.CreateDirectory(directory) : Directory.CreateDirectory(directory, PrivateDirectory);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            await stderr.WriteLineAsync($"kraken serve --dev: cannot use the directory '{keptDirectory}': {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            DevRoot root;
            try
            {
                root = Prepare(directory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
            {
                await stderr.WriteLineAsync($"kraken serve --dev: cannot prepare '{directory}': {ex.Message}").ConfigureAwait(false);
                return 2;
            }

            await stderr.WriteLineAsync(Summary(root, keptDirectory is not null)).ConfigureAwait(false);
            return await DaemonHost.ServeAsync(root.Config, overrides, stderr, services =>
                services.AddHostedService(sp => new ExportLine(sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<IServer>(), root.TokenFile, stdout))).ConfigureAwait(false);
        }
        finally
        {
            if (keptDirectory is null)
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    await stderr.WriteLineAsync($"kraken serve --dev: cannot remove '{directory}': {ex.Message}").ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>What a dev root runs from: its configuration file, token file and the cluster it imports.</summary>
    internal sealed record DevRoot(string Directory, string Config, string TokenFile, string RootId, int Nodes);

    /// <summary>Writes whatever of the dev root's files <paramref name="directory"/> does not hold yet.</summary>
    internal static DevRoot Prepare(string directory)
    {
        var tokenFile = Path.Combine(directory, TokenFile);
        var secretFile = Path.Combine(directory, SecretFile);
        var clusterFile = Path.Combine(directory, ClusterFile);
        var configFile = Path.Combine(directory, ConfigFile);
        WriteNew(tokenFile, SecretFiles.NewSecret() + "\n");
        WriteNew(secretFile, SecretFiles.NewSecret() + "\n");
        var cluster = SimulatedCluster(EmbeddedCluster(), out var rootId, out var nodes);
        WriteNew(clusterFile, cluster);
        WriteNew(configFile, Configuration(directory, rootId, tokenFile, secretFile, clusterFile));
        return new DevRoot(directory, configFile, tokenFile, rootId, nodes);
    }

    /// <summary>The example cluster as the executable carries it.</summary>
    internal static byte[] EmbeddedCluster()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ClusterResource)
            ?? throw new InvalidOperationException($"resource {ClusterResource} is missing from the build");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    /// <summary>
    /// The state file with every node's <c>/Extensions/Power/Driver</c> set to <c>sim</c> (no BMC is ever contacted);
    /// <paramref name="rootId"/> is the node without a parent, which the dev root runs as.
    /// </summary>
    internal static string SimulatedCluster(byte[] stateFile, out string rootId, out int nodes)
    {
        var document = JsonNode.Parse(stateFile) ?? throw new JsonException("the example cluster is empty");
        var list = document["nodes"]?.AsArray() ?? throw new JsonException("the example cluster has no nodes");
        string? root = null;
        foreach (var node in list)
        {
            if (node?["parentId"] is null)
            {
                root ??= node?["id"]?.GetValue<string>();
            }

            if (node?["extensions"]?["Power"] is JsonObject power)
            {
                power["driver"] = "sim";
            }
        }

        rootId = root ?? throw new JsonException("the example cluster has no node without a parent");
        nodes = list.Count;
        return document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string Configuration(string directory, string rootId, string tokenFile, string secretFile, string clusterFile)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("NodeId", rootId);
            w.WriteString("Role", "root");
            w.WriteStartObject("Api");
            w.WriteString("Url", "http://127.0.0.1:0");
            w.WriteString("TokenFile", tokenFile);
            w.WriteEndObject();
            w.WriteStartObject("Sync");
            w.WriteString("Bind", "127.0.0.1:0");
            w.WriteString("JoinSecretFile", secretFile);
            w.WriteEndObject();
            w.WriteStartObject("Store");
            w.WriteString("Path", Path.Combine(directory, StoreFile));
            w.WriteString("Import", clusterFile);
            w.WriteEndObject();
            w.WriteStartObject("Modules");
            w.WriteStartObject("Power");
            w.WriteStartArray("Drivers");
            w.WriteStringValue("sim");
            w.WriteEndArray();
            w.WriteString("PollInterval", "00:00:05");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject("Logging");
            w.WriteStartObject("LogLevel");
            w.WriteString("Default", "Information");
            w.WriteString("Microsoft.AspNetCore", "Warning");
            w.WriteEndObject();
            // Logs on standard error: standard output carries only the export line.
            w.WriteStartObject("Console");
            w.WriteString("LogToStandardErrorThreshold", "Trace");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static string Summary(DevRoot root, bool kept) =>
        $"kraken serve --dev: root {root.RootId} of the example cluster ({root.Nodes} nodes), every power driver simulated, " +
        $"PXE off; files in {root.Directory} ({(kept ? "kept" : "removed at exit")}). The root powers its children on; " +
        "their join and everything below them stay pending, as no machine runs their daemons (docs/daemon.md, \"Dev mode\").";

    /// <summary>Creates <paramref name="path"/> (mode 0600) with <paramref name="content"/>; an existing file is kept.</summary>
    private static void WriteNew(string path, string content)
    {
        if (!File.Exists(path))
        {
            SecretFiles.CreateNew(path, content, SecretFiles.Private);
        }
    }

    /// <summary>
    /// <c>export KRAKEN_SERVER=http://127.0.0.1:PORT KRAKEN_TOKEN_FILE=PATH</c> for a POSIX shell, with a wildcard
    /// listening address given as loopback and the path quoted when it needs to be.
    /// </summary>
    internal static string Export(string listeningUrl, string tokenFile)
    {
        var uri = new Uri(listeningUrl);
        var host = uri.Host is "0.0.0.0" or "[::]" or "::" or "+" or "*" ? "127.0.0.1" : uri.Host;
        return $"export KRAKEN_SERVER=http://{host}:{uri.Port} KRAKEN_TOKEN_FILE={ShellQuote(tokenFile)}";
    }

    internal static string ShellQuote(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+' or ',' or ':' or '@' or '%')
            ? value
            : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Prints the export line once the API listens (the port is known only then).</summary>
    private sealed class ExportLine(IHostApplicationLifetime lifetime, IServer server, string tokenFile, TextWriter stdout) : IHostedService
    {
        private IDisposable? _started;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _started = lifetime.ApplicationStarted.Register(() =>
            {
                var url = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
                if (url is not null)
                {
                    stdout.WriteLine(Export(url, tokenFile));
                    stdout.Flush();
                }
            });
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            _started?.Dispose();
            return Task.CompletedTask;
        }
    }
}
