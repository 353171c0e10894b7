// The daemon's configuration: one class per section, bound strictly (unknown keys are errors) and validated at start.
using System.Net;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.Sync;
using Microsoft.Extensions.Configuration;

namespace Kraken.Daemon.Hosting;

/// <summary>A configuration value that stops start-up; <see cref="Key"/> is the full configuration path.</summary>
public sealed class DaemonConfigException(string key, string message) : Exception($"{key}: {message}")
{
    public string Key { get; } = key;
}

/// <summary>Section <c>Api</c>: where the REST API listens and who may write.</summary>
public sealed class ApiOptions
{
    /// <summary>The URL the API listens on; port 0 picks a free port (logged at start).</summary>
    public string Url { get; set; } = "http://127.0.0.1:3141";

    /// <summary>Bearer token for writes. Without a token (here or in <see cref="TokenFile"/>) every write is refused.</summary>
    public string? Token { get; set; }

    /// <summary>A file whose first line is the token (keeps it out of the config file).</summary>
    public string? TokenFile { get; set; }

    /// <summary>Per-client buffer of the event stream; a client this far behind is disconnected.</summary>
    public int EventBuffer { get; set; } = 1024;

    /// <summary>
    /// Recent events the event stream keeps, so that a client reconnecting with <c>Last-Event-ID</c> gets what it
    /// missed; an id older than these is answered with a <c>reset</c> event. Keep it above <see cref="EventBuffer"/>,
    /// so a client cut off for falling behind can still resume. 0 keeps none.
    /// </summary>
    public int EventReplay { get; set; } = 4096;

    /// <summary>
    /// Exports and whole node lists written at once; more are refused with 503 and Retry-After. Each streams, but
    /// holds a snapshot of the view until its client has read it.
    /// </summary>
    public int MaxConcurrentExports { get; set; } = 4;

    /// <summary>
    /// How long one write to an event-stream subscriber (SSE or WebSocket) may take; a subscriber that does not
    /// read for this long is disconnected and counted (kraken_api_subscribers_dropped_total).
    /// </summary>
    public TimeSpan EventWriteTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Section <c>Sync</c>: the tree protocol.</summary>
public sealed class SyncSection
{
    /// <summary>UDP and TCP address of the sync protocol.</summary>
    public string Bind { get; set; } = "0.0.0.0:31415";

    /// <summary>
    /// Parents to join, primary first: <c>address:port</c> or <c>host:port</c> (resolved through DNS at each join
    /// attempt, so at fail-over too). Empty for the root.
    /// </summary>
    public List<string> Parents { get; set; } = [];

    public string? JoinSecret { get; set; }

    public string? JoinSecretFile { get; set; }

    public SyncProfile Profile { get; set; } = SyncProfile.Kraken;

    /// <summary>Overrides of the profile's timers; unset keeps the profile's default.</summary>
    public TimeSpan? HelloInterval { get; set; }

    public TimeSpan? DeadInterval { get; set; }

    /// <summary>How far a lossy link may stretch the dead interval (SyncOptions.MaxDeadInterval); unset: four times it.</summary>
    public TimeSpan? MaxDeadInterval { get; set; }

    public TimeSpan? JoinBackoff { get; set; }

    public TimeSpan? JoinTimeout { get; set; }

    /// <summary>How often a child joined to a backup parent tries its primary again (zero: never).</summary>
    public TimeSpan? FailbackInterval { get; set; }

    /// <summary>How long a bootstrap credential this daemon issues to a node it boots stays usable (docs/protocol.md 5.2).</summary>
    public TimeSpan BootstrapLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Inbound sync streams open at once (docs/protocol.md, "Limits before authentication"); unset: 1024, or a
    /// quarter of the process's file-descriptor limit if that is less, so streams can never take the descriptors
    /// the API and the PXE services need.
    /// </summary>
    public int? MaxStreams { get; set; }

    /// <summary>Inbound sync streams open at once from one address; unset: 64, or MaxStreams if that is less.</summary>
    public int? MaxStreamsPerSource { get; set; }

    /// <summary>An inbound stream's first whole frame must come within this time.</summary>
    public TimeSpan StreamHandshakeTimeout { get; set; } = new SocketTransportLimits().HandshakeTimeout;

    /// <summary>An inbound stream that completes no frame for this long is closed.</summary>
    public TimeSpan StreamIdleTimeout { get; set; } = new SocketTransportLimits().IdleTimeout;

    /// <summary>The largest frame a stream may announce before its sender is known as a neighbour, in bytes.</summary>
    public int UnauthenticatedFrameLimit { get; set; } = new SocketTransportLimits().UnauthenticatedFrameLimit;
}

/// <summary>Section <c>Store</c>: durable Cfg (root) and the initial cluster description.</summary>
public sealed class StoreOptions
{
    /// <summary>SQLite file of the durable Cfg; required at the root (":memory:" for a root that forgets).</summary>
    public string? Path { get; set; }

    /// <summary>A state file imported at start when the store is empty (first start of a root).</summary>
    public string? Import { get; set; }
}

/// <summary>Section <c>Reconcile</c>.</summary>
public sealed class ReconcileSection
{
    public bool StartFrozen { get; set; }

    /// <summary>
    /// After start (a child: after its first join), children that are powered on and have not reported are left alone
    /// this long, so their daemons can join this one again before it boots them (default <c>ModuleSet.RestartGrace</c>,
    /// 2 minutes; zero turns it off).
    /// </summary>
    public TimeSpan? RestartGrace { get; set; }
}

/// <summary>The whole configuration, validated. Built by <see cref="Load"/>.</summary>
public sealed class DaemonOptions
{
    public const string MemoryStore = ":memory:";

    private static readonly HashSet<string> s_sections = new(StringComparer.OrdinalIgnoreCase)
    {
        "NodeId", "Role", "Api", "Sync", "Store", "Reconcile", "Modules", "Logging", KestrelSection.Name,
    };

    public NodeId NodeId { get; init; }

    public bool IsRoot { get; init; }

    public ApiOptions Api { get; init; } = new();

    public SyncSection Sync { get; init; } = new();

    public StoreOptions Store { get; init; } = new();

    public ReconcileSection Reconcile { get; init; } = new();

    /// <summary>The effective write token (from <c>Api:Token</c> or <c>Api:TokenFile</c>), or null: writes are refused.</summary>
    public string? Token { get; init; }

    /// <summary>The cluster join secret; empty on a node booted with only a <see cref="BootstrapCredential"/>.</summary>
    public byte[] JoinSecret { get; init; } = [];

    /// <summary>The credential its parent gave this boot (<c>kraken serve --boot</c>), for the first join; null otherwise.</summary>
    public byte[]? BootstrapCredential { get; init; }

    /// <summary>Started by <c>kraken serve --boot</c>: what this node serves comes from its Cfg, not from configuration.</summary>
    public Boot.KernelArguments? Boot { get; init; }

    public IPEndPoint SyncBind { get; init; } = new(IPAddress.Any, 31415);

    /// <summary>The parents: an <see cref="IPEndPoint"/> per address, a <see cref="HostEndPoint"/> per host name.</summary>
    public IReadOnlyList<EndPoint> Parents { get; init; } = [];

    /// <summary>True for the top-level keys the daemon reads.</summary>
    public static bool IsSection(string key) => s_sections.Contains(key);

    /// <summary>
    /// Binds and validates; throws <see cref="DaemonConfigException"/> naming the first bad key. A node booted by its
    /// parent passes its kernel arguments and the bootstrap credential of its boot, which stands in for the join secret.
    /// </summary>
    public static DaemonOptions Load(IConfiguration configuration, Boot.KernelArguments? boot = null, byte[]? bootstrapCredential = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        foreach (var child in configuration.GetChildren())
        {
            if (!s_sections.Contains(child.Key))
            {
                throw new DaemonConfigException(child.Key, $"unknown key; expected one of {string.Join(", ", s_sections.Order(StringComparer.Ordinal))}");
            }
        }

        var nodeIdText = configuration["NodeId"];
        if (string.IsNullOrWhiteSpace(nodeIdText))
        {
            throw new DaemonConfigException("NodeId", "is required (this daemon's node id, a UUID)");
        }

        if (!NodeId.TryParse(nodeIdText, out var nodeId) || nodeId.IsNil)
        {
            throw new DaemonConfigException("NodeId", $"'{nodeIdText}' is not a non-nil UUID");
        }

        // Each Bind call names its concrete type, so the configuration binding generator writes its code.
        var api = Bind(configuration, "Api", new ApiOptions(), static (s, v) => s.Bind(v, Strict));
        var sync = Bind(configuration, "Sync", new SyncSection(), static (s, v) => s.Bind(v, Strict));
        var store = Bind(configuration, "Store", new StoreOptions(), static (s, v) => s.Bind(v, Strict));
        var reconcile = Bind(configuration, "Reconcile", new ReconcileSection(), static (s, v) => s.Bind(v, Strict));

        if (reconcile.RestartGrace < TimeSpan.Zero)
        {
            throw new DaemonConfigException("Reconcile:RestartGrace", $"{reconcile.RestartGrace} must not be negative (zero turns the grace off)");
        }

        var role = configuration["Role"]?.Trim().ToLowerInvariant();
        var isRoot = role switch
        {
            null or "" => sync.Parents.Count == 0,
            "root" => true,
            "child" or "tier" or "leaf" => false,
            _ => throw new DaemonConfigException("Role", $"'{configuration["Role"]}' is not a role; use root or child"),
        };
        if (isRoot && sync.Parents.Count > 0)
        {
            throw new DaemonConfigException("Sync:Parents", "a root has no parents; remove them or set Role to child");
        }

        if (!isRoot && sync.Parents.Count == 0)
        {
            throw new DaemonConfigException("Sync:Parents", "a child needs at least one parent (address:port or host:port)");
        }

        // Plain HTTP only: the API belongs on a management address (or behind a TLS-terminating proxy).
        if (!Uri.TryCreate(api.Url, UriKind.Absolute, out var apiUri) || apiUri.Scheme != "http" || apiUri.AbsolutePath != "/")
        {
            throw new DaemonConfigException("Api:Url", $"'{api.Url}' is not an http://address:port URL");
        }

        KestrelSection.Validate(configuration);
        if (api.EventBuffer is < 16 or > 1_000_000)
        {
            throw new DaemonConfigException("Api:EventBuffer", $"{api.EventBuffer} is outside 16..1000000");
        }

        if (api.EventReplay is < 0 or > 1_000_000)
        {
            throw new DaemonConfigException("Api:EventReplay", $"{api.EventReplay} is outside 0..1000000");
        }

        if (api.MaxConcurrentExports is < 1 or > 256)
        {
            throw new DaemonConfigException("Api:MaxConcurrentExports", $"{api.MaxConcurrentExports} is outside 1..256");
        }

        if (api.EventWriteTimeout < TimeSpan.FromMilliseconds(100) || api.EventWriteTimeout > TimeSpan.FromHours(1))
        {
            throw new DaemonConfigException("Api:EventWriteTimeout", $"{api.EventWriteTimeout} is outside 00:00:00.1..01:00:00");
        }

        var token = api.Token ?? ReadSecretFile(api.TokenFile, "Api:TokenFile");
        if (token is not null && token.Length < 16)
        {
            throw new DaemonConfigException(api.Token is not null ? "Api:Token" : "Api:TokenFile", "the token must be at least 16 characters");
        }

        var secretText = sync.JoinSecret ?? ReadSecretFile(sync.JoinSecretFile, "Sync:JoinSecretFile");
        if (secretText is null && bootstrapCredential is null)
        {
            throw new DaemonConfigException("Sync:JoinSecret", "is required (or Sync:JoinSecretFile): the cluster's shared join secret");
        }

        var secret = secretText is null ? [] : System.Text.Encoding.UTF8.GetBytes(secretText);
        if (secretText is not null && secret.Length < 16)
        {
            throw new DaemonConfigException("Sync:JoinSecret", $"must be at least 16 bytes, got {secret.Length}");
        }

        if (sync.BootstrapLifetime <= TimeSpan.Zero)
        {
            throw new DaemonConfigException("Sync:BootstrapLifetime", $"{sync.BootstrapLifetime} is not a positive time span");
        }

        var bind = ParseEndPoint(sync.Bind, "Sync:Bind");
        var parents = sync.Parents.Select((p, i) => ParseParent(p, $"Sync:Parents:{i}")).ToList();
        if (isRoot && string.IsNullOrWhiteSpace(store.Path))
        {
            throw new DaemonConfigException("Store:Path", $"is required at the root (the durable Cfg database; \"{MemoryStore}\" keeps Cfg in memory only)");
        }

        if (store.Import is { } import && !File.Exists(import))
        {
            throw new DaemonConfigException("Store:Import", $"'{import}' does not exist");
        }

        var options = new DaemonOptions
        {
            NodeId = nodeId,
            IsRoot = isRoot,
            Api = api,
            Sync = sync,
            Store = store,
            Reconcile = reconcile,
            Token = token,
            JoinSecret = secret,
            BootstrapCredential = bootstrapCredential,
            Boot = boot,
            SyncBind = bind,
            Parents = parents,
        };
        try
        {
            options.ToSyncOptions().Validate();
        }
        catch (ArgumentException ex)
        {
            throw new DaemonConfigException(ex.ParamName is { } p ? $"Sync:{p}" : "Sync", ex.Message);
        }

        try
        {
            options.ToTransportLimits().Validate();
        }
        catch (ArgumentException ex)
        {
            throw new DaemonConfigException(ex.ParamName switch
            {
                nameof(SocketTransportLimits.HandshakeTimeout) => "Sync:StreamHandshakeTimeout",
                nameof(SocketTransportLimits.IdleTimeout) => "Sync:StreamIdleTimeout",
                { } p => $"Sync:{p}",
                null => "Sync",
            }, ex.Message[..(ex.Message.IndexOf(" (Parameter", StringComparison.Ordinal) is var i and >= 0 ? i : ex.Message.Length)]);
        }

        return options;
    }

    /// <summary>The sync engine's options for this daemon.</summary>
    public SyncOptions ToSyncOptions()
    {
        var o = SyncOptions.ForProfile(Sync.Profile, NodeId, JoinSecret) with { Parents = [.. Parents], BootstrapCredential = BootstrapCredential };
        return o with
        {
            HelloInterval = Sync.HelloInterval ?? o.HelloInterval,
            DeadInterval = Sync.DeadInterval ?? o.DeadInterval,
            MaxDeadInterval = Sync.MaxDeadInterval ?? o.MaxDeadInterval,
            JoinBackoff = Sync.JoinBackoff ?? o.JoinBackoff,
            JoinTimeout = Sync.JoinTimeout ?? o.JoinTimeout,
            FailbackInterval = Sync.FailbackInterval ?? o.FailbackInterval,
        };
    }

    /// <summary>Limits on the sync port's inbound streams.</summary>
    public SocketTransportLimits ToTransportLimits()
    {
        var defaults = new SocketTransportLimits();
        var total = Sync.MaxStreams ?? (int)Math.Clamp(OpenFileLimit() / 4, 16, defaults.MaxStreams);
        return new()
        {
            MaxStreams = total,
            MaxStreamsPerSource = Sync.MaxStreamsPerSource ?? Math.Min(defaults.MaxStreamsPerSource, total),
        HandshakeTimeout = Sync.StreamHandshakeTimeout,
            IdleTimeout = Sync.StreamIdleTimeout,
            UnauthenticatedFrameLimit = Sync.UnauthenticatedFrameLimit,
        };
    }

    /// <summary>The soft limit on open files (RLIMIT_NOFILE) as <c>/proc/self/limits</c> states it; a large number if unknown.</summary>
    internal static long OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var soft) ? soft : long.MaxValue;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return long.MaxValue;
    }

    /// <summary>
    /// The values written as durations in units (<c>"HelloInterval": "5s"</c>, <c>--Sync:DeadInterval=1m30s</c>), each
    /// rewritten in the .NET form (<c>00:00:05</c>) that the configuration binder and every module read. Added as the
    /// last configuration source, so every section sees them. A value already in the .NET form, and any value that is
    /// not a duration, is left alone: a bad duration still fails where it is bound, naming its key.
    /// </summary>
    public static List<KeyValuePair<string, string?>> DurationValues(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var values = new List<KeyValuePair<string, string?>>();
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (value is not null && Durations.TryParseUnits(value.AsSpan().Trim(), out var duration))
            {
                values.Add(new(key, duration.ToString("c", System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        return values;
    }

    /// <summary>Unknown keys are errors, not silently ignored.</summary>
    internal static void Strict(BinderOptions options) => options.ErrorOnUnknownConfiguration = true;

    private static T Bind<T>(IConfiguration configuration, string section, T value, Action<IConfigurationSection, T> bind)
    {
        try
        {
            bind(configuration.GetSection(section), value);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key ("... at 'Sync:HelloInterval' ..." or the unknown property).
            var message = ex.InnerException is { } inner ? $"{ex.Message} {inner.Message}" : ex.Message;
            throw new DaemonConfigException(section, message.Contains(nameof(TimeSpan), StringComparison.Ordinal) ? $"{message} Write a duration as {Durations.Examples}." : message);
        }

        return value;
    }

    private static string? ReadSecretFile(string? path, string key)
    {
        if (path is null)
        {
            return null;
        }

        try
        {
            RequirePrivate(path, key);
            return File.ReadLines(path).FirstOrDefault()?.Trim() ?? throw new DaemonConfigException(key, $"'{path}' is empty");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigException(key, $"cannot read '{path}': {ex.Message}");
        }
    }

    /// <summary>
    /// Refuses a secret file (a token, the join secret, a BMC credential) that its group or other users can read, as ssh
    /// refuses a private key: whoever reads it can write Cfg, join the tree or power nodes off. Follows symbolic links.
    /// </summary>
    internal static void RequirePrivate(string path, string key)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
        {
            var who = (mode & UnixFileMode.GroupRead) != 0 && (mode & UnixFileMode.OtherRead) != 0 ? "its group and other users"
                : (mode & UnixFileMode.GroupRead) != 0 ? "its group" : "other users";
            throw new DaemonConfigException(key, $"'{path}' can be read by {who} (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); a secret file must be private to the daemon's user: chmod 600 '{path}'");
        }
    }

    private static EndPoint ParseParent(string text, string key) =>
        text is not null && text.Contains(':', StringComparison.Ordinal) && HostEndPoint.TryParse(text, 0, out var ep)
            ? ep!
            : throw new DaemonConfigException(key, $"'{text}' is not an address:port or host:port (e.g. 198.18.0.1:31415, parent-1.cluster:31415)");

    private static IPEndPoint ParseEndPoint(string text, string key) =>
        IPEndPoint.TryParse(text ?? string.Empty, out var ep) && text!.Contains(':', StringComparison.Ordinal)
            ? ep
            : throw new DaemonConfigException(key, $"'{text}' is not an address:port (e.g. 198.18.0.1:31415)");
}
