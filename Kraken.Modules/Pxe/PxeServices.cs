// The PXE services of one boot segment: DHCP on a raw link, TFTP, HTTP boot and router advertisements, wired
// to the PXE reconcile module.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Modules.Pxe.Http;
using Kraken.Modules.Pxe.Ipv6;
using Kraken.Modules.Pxe.Tftp;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Kraken.Tree.Sync;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Pxe;

/// <summary>
/// Composes, for one interface: a <see cref="DhcpServer"/> on a raw link (answering the nodes this daemon boots,
/// or only registered ones), a <see cref="TftpServer"/> serving <see cref="BootFileSource"/>, an
/// <see cref="HttpBootServer"/>, and a <see cref="RouterAdvertiser"/>; and the <see cref="PxeModule"/> that
/// turns what they see into discoveries. Created stopped; <see cref="StartAsync"/> binds everything or nothing.
/// </summary>
public sealed class PxeServices : IAsyncDisposable
{
    private readonly PxeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly Func<string, RawLinkFilter, IRawLink> _openLink;
    private readonly StoreDhcpBindings _bindings;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly List<IRawLink> _links = [];
    private readonly List<IDisposable> _drops = [];
    private readonly bool _ownsNodes;
    private bool _disposed;

    /// <param name="options">Validated here (<see cref="PxeConfigException"/> names the bad key).</param>
    /// <param name="store">The daemon's store.</param>
    /// <param name="inSubtree">The nodes this daemon boots (see <see cref="BootNodeDirectory.ChildrenOf"/>).</param>
    /// <param name="time">The clock for DHCP and TFTP timers.</param>
    /// <param name="loggerFactory">For every service's logs.</param>
    /// <param name="openLink">Opens a raw link on an interface with a filter; default <see cref="RawLink.Open"/> with <see cref="PxeOptions.LinkKind"/>.</param>
    /// <param name="bootstrap">Issues the bootstrap credentials of the nodes booted here (served in their bootstrap archive); null: none.</param>
    public PxeServices(PxeOptions options, StateStore store, Func<NodeId, bool> inSubtree, TimeProvider time, ILoggerFactory loggerFactory, Func<string, RawLinkFilter, IRawLink>? openLink = null, BootstrapCredentials? bootstrap = null)
        : this(options, store, inSubtree, null, null, time, loggerFactory, openLink, bootstrap)
    {
    }

    /// <summary>
    /// Services under a PXE module that already exists (created with the reconcile engine, before the services could
    /// start: a node booted over the network learns what it serves only from the Cfg its parent sends). The directory
    /// and the module stay their creator's to dispose.
    /// </summary>
    public PxeServices(PxeOptions options, StateStore store, BootNodeDirectory nodes, PxeModule module, TimeProvider time, ILoggerFactory loggerFactory, Func<string, RawLinkFilter, IRawLink>? openLink = null, BootstrapCredentials? bootstrap = null)
        : this(options, store, null, nodes ?? throw new ArgumentNullException(nameof(nodes)), module ?? throw new ArgumentNullException(nameof(module)), time, loggerFactory, openLink, bootstrap)
    {
    }

    private PxeServices(PxeOptions options, StateStore store, Func<NodeId, bool>? inSubtree, BootNodeDirectory? nodes, PxeModule? module, TimeProvider time, ILoggerFactory loggerFactory, Func<string, RawLinkFilter, IRawLink>? openLink, BootstrapCredentials? bootstrap)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _options = options;
        _time = time;
        _loggerFactory = loggerFactory;
        _openLink = openLink ?? ((name, filter) => RawLink.Open(name, options.LinkKind, filter));

        var boot = options.Boot;
        boot.ServerAddress = options.ServerAddress!;
        boot.HttpBaseUrl ??= options.HttpBaseUrl;
        _ownsNodes = nodes is null;
        inSubtree ??= id => nodes!.TryGetById(id, out _);
        Nodes = nodes ?? new BootNodeDirectory(store, inSubtree, boot.Interface);
        try
        {
            Files = new BootFiles(boot, Nodes);
        }
        catch (BootTemplateException e)
        {
            if (_ownsNodes)
            {
                Nodes.Dispose();
            }

            throw new PxeConfigException($"{nameof(PxeOptions.Boot)}:{e.Key}", e.Message[(e.Key.Length + 2)..]);
        }

        Module = module ?? new PxeModule(Nodes, options.Module, loggerFactory.CreateLogger<PxeModule>());
        _bindings = new StoreDhcpBindings(store, inSubtree);
        if (bootstrap is not null)
        {
            // A credential per boot, bound to the node's MAC and address, only after its DHCP exchange and only once.
            Files.Bootstrap = node => node.Address is { } address && Module.TryTakeBootstrap(node.Id)
                ? BootstrapArchive.Create(node.Id, bootstrap.Issue(node.Id, new IPEndPoint(address, 0), node.Mac))
                : null;
        }
    }

    public BootNodeDirectory Nodes { get; }

    public BootFiles Files { get; }

    /// <summary>The reconcile module to hand to the engine.</summary>
    public PxeModule Module { get; }

    public DhcpServer? Dhcp { get; private set; }

    public TftpServer? Tftp { get; private set; }

    public HttpBootServer? Http { get; private set; }

    public RouterAdvertiser? RouterAdvertiser { get; private set; }

    /// <summary>Opens the links and sockets and starts every service; on any failure, closes what was opened and throws.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var dhcpLink = Open(new RawLinkFilter(UdpPort: DhcpServer.ServerPort), "dhcp");
            Dhcp = new DhcpServer(_options.ToDhcp(), dhcpLink, new AnsweredBindings(_bindings, Module), _time, _loggerFactory.CreateLogger<DhcpServer>());
            Dhcp.Observed += o => Module.ObserveDhcp(o.Mac, o.Node, o.Acked, o.IsIpxe || o.Arch != DhcpClientArch.Other);

            if (_options.TftpRoot is { } tftpRoot)
            {
                Tftp = new TftpServer(
                    new TftpServerOptions { Endpoint = new IPEndPoint(_options.ServerAddress!, _options.TftpPort) },
                    new BootFileSource(Files, tftpRoot),
                    _time,
                    _loggerFactory.CreateLogger<TftpServer>());
                Tftp.TransferFinished += t => Module.ObserveFetch(null, t.Client.Address, t.Path, t.Completed);
                await Bind(nameof(PxeOptions.TftpPort), () => Tftp.StartAsync(cancellationToken)).ConfigureAwait(false);
            }

            if (_options.BootRoot is { } bootRoot)
            {
                Http = new HttpBootServer(new HttpBootOptions { Endpoint = new IPEndPoint(_options.ServerAddress!, _options.HttpPort), Root = bootRoot }, Files, _loggerFactory);
                Http.Fetched += f => Module.ObserveFetch(f.Node, f.Client.Address, f.Path, f.Completed);
                await Bind(nameof(PxeOptions.HttpPort), () => Http.StartAsync(cancellationToken)).ConfigureAwait(false);
            }

            if (_options.RouterAdvertisements)
            {
                // Joins all-routers (33:33:00:00:00:02): a host that forwards nothing has not, and its NIC would drop
                // the firmware's router solicitations, leaving iPXE to wait out IPv6 autoconfiguration (~15 s).
                RouterAdvertiser = new RouterAdvertiser(Open(new RawLinkFilter(Icmpv6: true, Multicast: new MacAddress(0x3333_0000_0002)), "ra"), _loggerFactory.CreateLogger<RouterAdvertiser>());
                _loops.Add(Task.Run(() => RouterAdvertiser.RunAsync(_stop.Token), CancellationToken.None));
            }

            _loops.Add(Task.Run(() => Dhcp.RunAsync(_stop.Token), CancellationToken.None));
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (Dhcp is not null)
        {
            await Dhcp.DisposeAsync().ConfigureAwait(false);
        }

        if (RouterAdvertiser is not null)
        {
            await RouterAdvertiser.DisposeAsync().ConfigureAwait(false);
        }

        // The loops first, then their links: a link closed under its reader is how SIGTERM once crashed the daemon.
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or ObjectDisposedException or InvalidOperationException)
        {
            // The loops end on cancellation; a link that failed under them has been logged by its server.
        }

        _loops.Clear();
        foreach (var drops in _drops)
        {
            drops.Dispose();
        }

        _drops.Clear();
        foreach (var link in _links)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }

        _links.Clear();
        if (Tftp is not null)
        {
            await Tftp.DisposeAsync().ConfigureAwait(false);
        }

        if (Http is not null)
        {
            await Http.DisposeAsync().ConfigureAwait(false);
        }

        _bindings.Dispose();
        if (_ownsNodes)
        {
            Nodes.Dispose();
        }

        _stop.Dispose();
    }

    // TFTP and HTTP boot listen on ServerAddress only, not on every address of the host: an address that is not
    // this host's, or a port already taken there, is named as the setting to fix.
    private async Task Bind(string portKey, Func<Task> start)
    {
        try
        {
            await start().ConfigureAwait(false);
        }
        catch (Exception e) when (SocketError(e) is { } error)
        {
            throw error == System.Net.Sockets.SocketError.AddressNotAvailable
                ? new PxeConfigException(nameof(PxeOptions.ServerAddress), $"'{_options.ServerAddress}' is not an address of this host (TFTP and HTTP boot listen on it)")
                : new PxeConfigException(portKey, $"cannot listen on {_options.ServerAddress}: {e.Message}");
        }
    }

    private static System.Net.Sockets.SocketError? SocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is System.Net.Sockets.SocketException s)
            {
                return s.SocketErrorCode;
            }
        }

        return null;
    }

    private IRawLink Open(RawLinkFilter filter, string purpose)
    {
        var link = _openLink(_options.Interface, filter);
        _links.Add(link);
        if (link is IBlockingRawLink real)
        {
            _drops.Add(Net.Transport.SocketDrops.Register(purpose, link.Name, () => real.ReceiveDrops));
        }

        return link;
    }

    /// <summary>The store's bindings, less the nodes the PXE module says not to answer (registered-only mode).</summary>
    private sealed class AnsweredBindings(StoreDhcpBindings inner, PxeModule module) : IDhcpBindings
    {
        public bool TryGet(PhysicalAddress mac, out DhcpBinding binding) =>
            inner.TryGet(mac, out binding) && module.ShouldAnswer(binding.Node);
    }
}
