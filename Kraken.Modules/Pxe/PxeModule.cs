// The PXE reconcile module: /Extensions/Pxe/State discoveries and the mutations that drive a child's network boot.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using PxeProto = Kraken.Tree.State.Proto.Pxe;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Modules.Pxe;

/// <summary>Settings of <see cref="PxeModule"/>.</summary>
public sealed class PxeModuleOptions
{
    /// <summary>The module name the engine knows it by.</summary>
    public string ModuleName { get; set; } = "pxe";

    /// <summary>NONE -> WAIT: registering the node (the original's 10 s).</summary>
    public TimeSpan RegisterTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>WAIT -> INIT: from registration to the DHCP ACK (the original's 90 s).</summary>
    public TimeSpan DhcpTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>INIT -> COMP: from the ACK to the last boot file delivered.</summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Every PXE step requires <c>/PhysState = POWER_ON</c> and fails to <c>PHYS_HANG</c>, as in the original (a
    /// power module then recovers the node). Without power control, set false: the steps have no power
    /// requirement, <c>WAITtoINIT</c> does not change <c>/RunState</c>, and a timed-out step sends the node back to
    /// <c>NONE</c>, so the boot is tried again.
    /// </summary>
    public bool RequirePowerOn { get; set; } = true;

    /// <summary>
    /// When true, DHCP answers only nodes whose PXE state is WAIT, INIT or COMP (registered by NONEtoWAIT);
    /// when false (the default) it answers every node this daemon boots.
    /// </summary>
    public bool RegisteredOnly { get; set; }

    /// <summary>
    /// The files whose completed delivery (over TFTP or HTTP, by file name) completes INIT -> COMP; all must be
    /// delivered after the ACK. Default: the kernel and the initrd.
    /// </summary>
    public IReadOnlyList<string> BootFiles { get; set; } = ["vmlinuz", "initrd.img"];

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModuleName))
        {
            throw new ArgumentException("ModuleName must not be empty.", nameof(ModuleName));
        }

        foreach (var (name, value) in new[] { (nameof(RegisterTimeout), RegisterTimeout), (nameof(DhcpTimeout), DhcpTimeout), (nameof(FetchTimeout), FetchTimeout) })
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentException($"{name} must be positive, not {value}.", name);
            }
        }

        if (BootFiles.Count == 0 || BootFiles.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("BootFiles must name at least one file, and no empty names.", nameof(BootFiles));
        }
    }
}

/// <summary>
/// Drives a child's network boot (context Child: a parent boots its children) through
/// <c>/Extensions/Pxe/State</c>: <c>NONEtoWAIT</c> registers the node with the DHCP server and discovers WAIT;
/// <c>WAITtoINIT</c> is completed by the node's DHCP ACK, which discovers INIT (and <c>/RunState = INIT</c>, as
/// the original did); <c>INITtoCOMP</c> is completed once the node has fetched its boot files. The services
/// report what they see through <see cref="ObserveDhcp"/> and <see cref="ObserveFetch"/>, from any thread;
/// discoveries follow what is seen whether or not a step is waiting for it, so a fast client can never outrun
/// the engine.
/// </summary>
public sealed partial class PxeModule : IReconcileModule
{
    public const string NoneToWait = "NONEtoWAIT";
    public const string WaitToInit = "WAITtoINIT";
    public const string InitToComp = "INITtoCOMP";

    public const string StateUrl = "/Extensions/Pxe/State";
    private const string RunStateUrl = "/RunState";

    private readonly PxeModuleOptions _options;
    private readonly BootNodeDirectory _nodes;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<NodeId, HashSet<string>> _fetched = [];
    private readonly HashSet<NodeId> _bootstrapDue = [];
    private readonly HashSet<string> _bootFiles;
    private IReconcileHost? _host;

    /// <param name="nodes">The nodes this daemon boots, and how to find them by MAC and address.</param>
    /// <param name="options">Validated here.</param>
    /// <param name="logger">Where the module logs; none by default.</param>
    public PxeModule(BootNodeDirectory nodes, PxeModuleOptions? options = null, ILogger<PxeModule>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        _options = options ?? new PxeModuleOptions();
        _options.Validate();
        _nodes = nodes;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _bootFiles = new HashSet<string>(_options.BootFiles.Select(FileName), StringComparer.Ordinal);
        Declaration = CreateDeclaration(_options);
    }

    public ModuleDeclaration Declaration { get; }

    public PxeModuleOptions Options => _options;

    /// <summary>The declaration: PXE state (and RunState INIT) discoverables and the three boot steps, all context Child.</summary>
    public static ModuleDeclaration CreateDeclaration(PxeModuleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<UrlValue> requires = options.RequirePowerOn ? [new UrlValue("/PhysState", "POWER_ON")] : [];
        var failTo = options.RequirePowerOn ? new UrlValue("/PhysState", "PHYS_HANG") : new UrlValue(StateUrl, "NONE");
        MutationDeclaration Step(string id, TimeSpan timeout, params MutatedUrl[] mutates) => new(id)
        {
            Mutates = mutates,
            Requires = requires,
            Context = MutationContext.Child,
            Timeout = timeout,
            FailTo = failTo,
        };

        return new ModuleDeclaration(options.ModuleName)
        {
            Discoverables = [new DiscoverableDeclaration(StateUrl, ["NONE", "WAIT", "INIT", "COMP"]), new DiscoverableDeclaration(RunStateUrl, ["INIT"])],
            Mutations =
            [
                Step(NoneToWait, options.RegisterTimeout, new MutatedUrl(StateUrl, "NONE", "WAIT")),
                // With power control, RunState goes UNKNOWN -> INIT in the same step, as in the original (a power
                // cycle clears it again). Without, a retried boot must not be barred by a RunState left at INIT, so
                // the step changes the PXE state only and RunState INIT is a plain discovery.
                options.RequirePowerOn
                    ? Step(WaitToInit, options.DhcpTimeout, new MutatedUrl(StateUrl, "WAIT", "INIT"), new MutatedUrl(RunStateUrl, "UNKNOWN", "INIT"))
                    : Step(WaitToInit, options.DhcpTimeout, new MutatedUrl(StateUrl, "WAIT", "INIT")),
                Step(InitToComp, options.FetchTimeout, new MutatedUrl(StateUrl, "INIT", "COMP")),
            ],
        };
    }

    public void Attach(IReconcileHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
    }

    public void OnMutationRequest(MutationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_host is null || request.Interrupted.IsCancellationRequested)
        {
            return;
        }

        switch (request.MutationId)
        {
            case NoneToWait:
                Register(request);
                break;
            case WaitToInit:
            case InitToComp:
                // Completed by what the DHCP, TFTP and HTTP servers see; the engine times the wait.
                break;
            default:
                _host.ReportFailure(request, $"The PXE module has no mutation '{request.MutationId}'.");
                break;
        }
    }

    /// <summary>
    /// Whether the DHCP server should answer <paramref name="node"/>: always, unless
    /// <see cref="PxeModuleOptions.RegisteredOnly"/>; then only in WAIT, INIT or COMP.
    /// </summary>
    public bool ShouldAnswer(NodeId node)
    {
        if (!_options.RegisteredOnly)
        {
            return true;
        }

        var state = PxeState(node);
        return state is PxeProto.Types.State.Wait or PxeProto.Types.State.Init or PxeProto.Types.State.Comp;
    }

    /// <summary>
    /// A DHCP message from a client. An ACK to a boot client (PXE firmware or iPXE, not an operating system
    /// renewing its lease) discovers INIT (and RunState INIT), and starts the count of delivered boot files.
    /// </summary>
    /// <param name="mac">The client's hardware address.</param>
    /// <param name="node">The node the DHCP server matched, if any (else looked up by MAC).</param>
    /// <param name="acked">True for an ACK sent.</param>
    /// <param name="bootClient">True when the client is PXE firmware or iPXE.</param>
    public void ObserveDhcp(PhysicalAddress mac, NodeId? node, bool acked, bool bootClient)
    {
        ArgumentNullException.ThrowIfNull(mac);
        if (!acked || !bootClient || _host is null)
        {
            return;
        }

        NodeId id;
        if (node is { } n)
        {
            id = n;
        }
        else if (_nodes.TryGetByMac(mac, out var found))
        {
            id = found.Id;
        }
        else
        {
            return;
        }

        if (!_nodes.TryGetById(id, out _))
        {
            return;
        }

        lock (_lock)
        {
            _fetched[id] = new HashSet<string>(StringComparer.Ordinal);
            _bootstrapDue.Add(id);
        }

        Log.Acked(_logger, id, mac);
        TryDiscover(id, StateUrl, "INIT");
        if (_host.Store.Get(StateView.Dsc, id)?.RunState is null or RunState.Unknown)
        {
            TryDiscover(id, RunStateUrl, "INIT");
        }
    }

    /// <summary>
    /// A file delivered over TFTP or HTTP. Once every boot file has been delivered completely to a node in
    /// INIT, the node's state becomes COMP.
    /// </summary>
    /// <param name="node">The node, if the server knew it.</param>
    /// <param name="client">The client's address (used when <paramref name="node"/> is null).</param>
    /// <param name="path">The requested path.</param>
    /// <param name="completed">True when the whole file (or range) was delivered.</param>
    public void ObserveFetch(NodeId? node, IPAddress client, string path, bool completed)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(path);
        if (!completed || _host is null)
        {
            return;
        }

        NodeId id;
        if (node is { } n)
        {
            id = n;
        }
        else if (_nodes.TryGetByAddress(client, out var found))
        {
            id = found.Id;
        }
        else
        {
            return;
        }

        var name = FileName(path);
        if (!_bootFiles.Contains(name))
        {
            return;
        }

        bool done;
        lock (_lock)
        {
            if (!_fetched.TryGetValue(id, out var set))
            {
                // Fetches before any ACK seen (say, after a daemon restart) count too.
                _fetched[id] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(name);
            done = set.IsSupersetOf(_bootFiles);
        }

        if (done && PxeState(id) == PxeProto.Types.State.Init)
        {
            Log.Delivered(_logger, id);
            TryDiscover(id, StateUrl, "COMP");
            lock (_lock)
            {
                _fetched.Remove(id);
            }
        }
    }

    /// <summary>
    /// True once per boot of <paramref name="node"/>: after each DHCP ACK to a boot client, the first call says the
    /// boot may have its bootstrap credential, every later one says no (a second fetch, a replay of the boot's files).
    /// </summary>
    public bool TryTakeBootstrap(NodeId node)
    {
        lock (_lock)
        {
            return _bootstrapDue.Remove(node);
        }
    }

    private void Register(MutationRequest request)
    {
        var node = BootNode.FromRecord(request.Cfg, _nodes.Interface);
        if (node.Mac is null || node.Address is null)
        {
            _host!.ReportFailure(request, $"Node {request.Cfg.Nodename ?? request.Node.ToString()} has no MAC and IPv4 address on interface '{_nodes.Interface}' in its Cfg: it cannot be booted.");
            return;
        }

        lock (_lock)
        {
            _fetched.Remove(request.Node);
            _bootstrapDue.Remove(request.Node);
        }

        Log.Registered(_logger, request.Node, node.Mac, node.Address);
        TryDiscover(request.Node, StateUrl, "WAIT");
    }

    private PxeProto.Types.State? PxeState(NodeId node)
    {
        var dsc = _host?.Store.Get(StateView.Dsc, node);
        return dsc?.GetExtension<PxeProto>(StandardExtensions.Pxe) is { HasState: true } pxe ? pxe.State : dsc is null ? null : PxeProto.Types.State.None;
    }

    private void TryDiscover(NodeId node, string url, string value)
    {
        try
        {
            _host!.Discover(node, url, value);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            // The node was deleted meanwhile: nothing to report it to.
            Log.DiscoverFailed(_logger, node, e.Message);
        }
    }

    private static string FileName(string path)
    {
        var trimmed = path.TrimEnd('/');
        var slash = trimmed.LastIndexOf('/');
        return slash < 0 ? trimmed : trimmed[(slash + 1)..];
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "PXE: node {Node} registered ({Mac}, {Address})")]
        public static partial void Registered(ILogger logger, NodeId node, PhysicalAddress mac, IPAddress address);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "PXE: node {Node} ({Mac}) got its address")]
        public static partial void Acked(ILogger logger, NodeId node, PhysicalAddress mac);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "PXE: node {Node} has its boot files")]
        public static partial void Delivered(ILogger logger, NodeId node);

        [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "PXE: cannot report on node {Node}: {Reason}")]
        public static partial void DiscoverFailed(ILogger logger, NodeId node, string reason);
    }
}
