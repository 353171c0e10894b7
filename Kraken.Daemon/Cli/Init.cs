// "kraken init --role root|tier1|leaf [--dir DIR]": a configuration that starts, with its own token and join secret.
using System.Text.Json;
using System.Text.Json.Nodes;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;

namespace Kraken.Daemon.Cli;

/// <summary>
/// Writes <c>kraken.json</c> for a role, made from the example configuration of that role (examples/daemon-*.json,
/// built into kraken), with every file it names inside the directory: <c>api-token</c> and <c>join-secret</c> (random,
/// 256 bits, mode 0600), a tier-1's <c>credentials/</c> directory (0700) for BMC passwords, and a root's
/// <c>cfg.db</c>. Nothing is overwritten: if any file it would write exists, it names them and writes nothing.
/// The sync port listens on every address (the examples name their lab addresses); the API stays on loopback.
/// </summary>
internal static class Init
{
    public static readonly string[] Roles = ["root", "tier1", "leaf"];

    /// <summary>Where the configuration and its secrets go without --dir (the examples' paths).</summary>
    public const string DefaultDirectory = "/etc/kraken";

    /// <summary>Where a root's Cfg database goes without --dir.</summary>
    public const string DefaultStoreDirectory = "/var/lib/kraken";

    private const UnixFileMode Private = SecretFiles.Private;
    private const UnixFileMode PrivateDirectory = SecretFiles.PrivateDirectory;
    private const UnixFileMode Readable = Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode OpenDirectory = Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    public static int Run(Arguments args, TextWriter stdout)
    {
        var role = args.Option("--role") ?? throw new CliException("init needs --role root|tier1|leaf", 2);

        var nodeId = NodeId.NewRandom();
        if (args.Option("--node-id") is { } idText && (!NodeId.TryParse(idText, out nodeId) || nodeId.IsNil))
        {
            throw new CliException($"--node-id '{idText}' is not a non-nil UUID", 2);
        }

        var parents = args.Options("--parent");
        if (parents.FirstOrDefault(p => !IsHostPort(p)) is { } badParent)
        {
            throw new CliException($"--parent '{badParent}' is not an address:port (e.g. 198.18.0.1:31415)", 2);
        }

        if (role == "root" && parents.Count > 0)
        {
            throw new CliException("--parent: a root has no parents", 2);
        }

        var dir = Path.GetFullPath(args.Option("--dir") ?? DefaultDirectory);
        var storeDir = args.Option("--dir") is null ? DefaultStoreDirectory : dir;
        var files = new InitFiles(dir, storeDir);
        var config = Config(role, nodeId, parents, files);

        var existing = files.Written(role).Where(Path.Exists).ToList();
        if (existing.Count > 0)
        {
            throw new CliException($"not overwriting {string.Join(", ", existing)}: move {(existing.Count == 1 ? "it" : "them")} aside or use another --dir; nothing was written");
        }

        try
        {
            MakeDirectory(dir, OpenDirectory);
            if (role == "root")
            {
                MakeDirectory(storeDir, PrivateDirectory);
            }

            if (role == "tier1")
            {
                MakeDirectory(files.Credentials, PrivateDirectory);
            }

            // CreateNew: a file that appeared since the check above is not overwritten either.
            SecretFiles.CreateNew(files.Token, SecretFiles.NewSecret() + "\n", Private);
            SecretFiles.CreateNew(files.JoinSecret, SecretFiles.NewSecret() + "\n", Private);
            SecretFiles.CreateNew(files.Config, config, Readable);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write in {dir}: {ex.Message}");
        }

        stdout.WriteLine($"kraken init: a {role} daemon, node id {nodeId}, in {dir}:");
        stdout.WriteLine($"  {files.Config}  the configuration (from examples/daemon-{role}.json)");
        stdout.WriteLine($"  {files.Token}  the API token for writes (mode 0600)");
        stdout.WriteLine($"  {files.JoinSecret}  the cluster's join secret (mode 0600)");
        if (role == "root")
        {
            stdout.WriteLine($"  {files.Database}  the Cfg database, made at the first start");
        }

        if (role == "tier1")
        {
            stdout.WriteLine($"  {files.Credentials}/  BMC passwords, one file (mode 0600) per credential reference");
        }

        if (role != "root")
        {
            stdout.WriteLine("A cluster has one join secret: replace join-secret with the root's, and give this node id to the");
            stdout.WriteLine($"node in the root's Cfg (its parent must list it as a child). Parents: {string.Join(", ", Parents(config))}.");
        }

        stdout.WriteLine($"start it:  kraken serve --config {files.Config}");
        stdout.WriteLine($"use it:    export KRAKEN_TOKEN_FILE={files.Token}");
        return 0;
    }

    /// <summary>The example configuration of <paramref name="role"/> with this daemon's id, files and parents.</summary>
    private static string Config(string role, NodeId nodeId, IReadOnlyList<string> parents, InitFiles files)
    {
        using var example = typeof(Init).Assembly.GetManifestResourceStream($"Kraken.Daemon.daemon-{role}.json")
            ?? throw new InvalidOperationException($"examples/daemon-{role}.json is not built into this kraken");
        var config = JsonNode.Parse(example)!.AsObject();
        config["NodeId"] = nodeId.ToString();
        Section(config, "Api")["TokenFile"] = files.Token;
        var sync = Section(config, "Sync");
        sync["Bind"] = "0.0.0.0:31415";
        sync["JoinSecretFile"] = files.JoinSecret;
        if (parents.Count > 0)
        {
            sync["Parents"] = new JsonArray([.. parents.Select(p => (JsonNode?)JsonValue.Create(p))]);
        }

        if (role == "root")
        {
            // The example imports /etc/kraken/cluster.json; a new root starts empty (kraken import FILE fills it).
            config["Store"] = new JsonObject { ["Path"] = files.Database };
        }

        if (config["Modules"]?["Power"]?["Credentials"] is JsonObject credentials)
        {
            credentials["Directory"] = files.Credentials;
        }

        return config.ToJsonString(s_indented) + "\n";
    }

    private static JsonObject Section(JsonObject config, string name)
    {
        if (config[name] is not JsonObject section)
        {
            config[name] = section = [];
        }

        return section;
    }

    private static IEnumerable<string> Parents(string config) =>
        JsonNode.Parse(config)?["Sync"]?["Parents"]?.AsArray().Select(p => p?.GetValue<string>() ?? string.Empty) ?? [];

    private static bool IsHostPort(string text) =>
        text.LastIndexOf(':') is var colon and > 0 && ushort.TryParse(text.AsSpan(colon + 1), out var port) && port > 0;

    /// <summary>Creates a directory (and its parents) with <paramref name="mode"/>; one that exists is left as it is.</summary>
    private static void MakeDirectory(string path, UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, mode);
        }
    }

    private sealed record InitFiles(string Directory, string StoreDirectory)
    {
        public string Config => Path.Combine(Directory, "kraken.json");

        public string Token => Path.Combine(Directory, "api-token");

        public string JoinSecret => Path.Combine(Directory, "join-secret");

        public string Credentials => Path.Combine(Directory, "credentials");

        public string Database => Path.Combine(StoreDirectory, "cfg.db");

        /// <summary>The files init writes for a role (and a root's database, which must not exist either).</summary>
        public IEnumerable<string> Written(string role) => role == "root" ? [Config, Token, JoinSecret, Database] : [Config, Token, JoinSecret];
    }
}
