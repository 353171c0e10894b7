// What a node booted over the network serves its own children: PXE and power, started from the Cfg its parent sends.
using System.Net;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Modules.Power.Redfish;
using Kraken.Modules.Pxe;
using Kraken.Net.Execution;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Boot;

/// <summary>
/// The modules and services of a daemon started by <c>kraken serve --boot</c>. Nothing comes from a local file: the
/// power module (IPMI and Redfish, with the BMC credentials the parent sealed into the join) and the PXE module exist
/// from the start, so the mutation graph is the usual one; the services under PXE start once the node's own Cfg has
/// arrived and says so (<c>/Services/pxe/State = RUN</c>): the interface named <c>pxe</c> in its IPv4 extension is
/// configured, the boot files are fetched from the parent (<c>kraken.boot</c>) into <see cref="BootDirectory"/>, and
/// DHCP, HTTP boot and router advertisements start on it. Until then the daemon keeps its engine frozen. What it
/// serves is reported in its own Dsc (<c>/Services/pxe/State</c>, <c>/Services/power/State</c>: RUN or ERROR).
/// </summary>
public sealed partial class BootServices : IAsyncDisposable
{
    /// <summary>The IPv4 interface (in the node's Cfg) that its children boot on.</summary>
    public const string DownlinkInterface = "pxe";

    private readonly KernelArguments _arguments;
    private readonly NodeId _self;
    private readonly StateStore _store;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly BootstrapCredentials _bootstrap;
    private readonly ICredentialProvider _credentials;
    private readonly HttpClient _http;
    private SerialExecutor? _executor;
    private BootNodeDirectory? _nodes;
    private PxeServices? _pxeServices;

    public BootServices(KernelArguments arguments, NodeId self, StateStore store, TimeProvider time, ILoggerFactory loggerFactory, BootstrapCredentials bootstrap, ICredentialProvider credentials, string bootDirectory, HttpClient? http = null)
    {
        _arguments = arguments;
        _self = self;
        _store = store;
        _time = time;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<BootServices>();
        _bootstrap = bootstrap;
        _credentials = credentials;
        BootDirectory = bootDirectory;
        _http = http ?? new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
    }

    /// <summary>Where the boot files fetched from the parent are kept and served from (a tmpfs on a booted node).</summary>
    public string BootDirectory { get; }

    public PowerModule? Power { get; private set; }

    /// <summary>Where its drivers find BMC secrets: those the parent sealed into this node's first join.</summary>
    public ICredentialProvider Credentials => _credentials;

    public PxeModule? Pxe { get; private set; }

    /// <summary>Test seam: opens the raw links of the PXE services; default <see cref="RawLink.Open"/> with AF_PACKET.</summary>
    public Func<string, RawLinkFilter, IRawLink>? OpenLink { get; init; }

    /// <summary>Test seam: configures the downlink; default rtnetlink in this network namespace.</summary>
    public Func<UplinkConfiguration, CancellationToken, Task<string>>? ConfigureInterface { get; init; }

    /// <summary>The power and PXE modules, for the reconcile engine; the services under PXE start later (<see cref="StartAsync"/>).</summary>
    public IReadOnlyList<IReconcileModule> CreateModules()
    {
        _executor = new SerialExecutor(ex => Log.ExecutorFailed(_logger, ex));
        Power = new PowerModule(
            [new IpmiPowerDriver(_credentials, new IpmiOptions(), _time), new RedfishPowerDriver(_credentials, new RedfishOptions())],
            _executor,
            _time,
            new PowerOptions(),
            _loggerFactory.CreateLogger<PowerModule>());
        _nodes = new BootNodeDirectory(_store, BootNodeDirectory.ChildrenOf(_store, _self));
        Pxe = new PxeModule(_nodes, new PxeModuleOptions(), _loggerFactory.CreateLogger<PxeModule>());
        return [Power, Pxe];
    }

    /// <summary>
    /// Starts what the node's Cfg says it serves. Failures are logged and reported as ERROR in the node's Dsc (the
    /// root sees them); they never stop the daemon, which goes on syncing.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var cfg = _store.Get(StateView.Cfg, _self);
        if (ServiceState(cfg, "power") == Service.Types.State.Run)
        {
            Report("power", Service.Types.State.Run);
        }

        if (ServiceState(cfg, "pxe") != Service.Types.State.Run || cfg is null)
        {
            return;
        }

        try
        {
            await StartPxeAsync(cfg, cancellationToken).ConfigureAwait(false);
            Report("pxe", Service.Types.State.Run);
        }
        catch (Exception e) when (e is BootServicesException or IOException or HttpRequestException or TaskCanceledException or NetworkConfigurationException or PxeConfigException or InvalidOperationException)
        {
            Log.PxeFailed(_logger, e.Message);
            Report("pxe", Service.Types.State.Error);
        }
    }

    private async Task StartPxeAsync(NodeRecord cfg, CancellationToken cancellationToken)
    {
        var downlink = Downlink(cfg) ?? throw new BootServicesException(
            $"Cfg says this node serves PXE, but its IPv4 extension has no interface '{DownlinkInterface}' with a MAC and an address");

        // The NIC on the children's segment, by the MAC the Cfg names.
        var configured = await (ConfigureInterface ?? ConfigureWithNetlinkAsync)(new UplinkConfiguration
        {
            Mac = new MacAddress(downlink.Mac),
            Address = BootNode.ToAddress(downlink.Ip),
            PrefixLength = downlink.HasPrefix ? (int)downlink.Prefix : 24,
            Mtu = downlink.HasMtu ? (int)downlink.Mtu : null,
        }, cancellationToken).ConfigureAwait(false);

        // The image this node booted from is what it boots its children with.
        var boot = _arguments.BootUrl ?? throw new BootServicesException("no kraken.boot URL on the kernel command line: nowhere to fetch the boot files from");
        Directory.CreateDirectory(BootDirectory);
        foreach (var file in new[] { _arguments.Kernel, _arguments.Initrd })
        {
            await FetchAsync(new Uri(boot, file), Path.Combine(BootDirectory, file), cancellationToken).ConfigureAwait(false);
        }

        var address = BootNode.ToAddress(downlink.Ip);
        var options = new PxeOptions
        {
            Interface = configured,
            ServerAddress = address,
            LinkKind = RawLinkKind.AfPacket,
            BootRoot = BootDirectory,
        };
        options.Boot.Kernel = _arguments.Kernel;
        options.Boot.Initrd = _arguments.Initrd;
        options.Module.BootFiles = [_arguments.Kernel, _arguments.Initrd];
        var services = new PxeServices(options, _store, _nodes!, Pxe!, _time, _loggerFactory, OpenLink, _bootstrap);
        await services.StartAsync(cancellationToken).ConfigureAwait(false);
        _pxeServices = services;
        Log.PxeStarted(_logger, configured, address, BootDirectory);
    }

    private static async Task<string> ConfigureWithNetlinkAsync(UplinkConfiguration configuration, CancellationToken cancellationToken)
    {
        using var netlink = NetworkConfigurator.Open();
        var report = await netlink.ConfigureAsync(configuration, cancellationToken).ConfigureAwait(false);
        return report.Interface.Name;
    }

    private async Task FetchAsync(Uri source, string destination, CancellationToken cancellationToken)
    {
        var partial = destination + ".partial";
        using (var response = await _http.GetAsync(source, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false))
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new BootServicesException($"GET {source}: {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            var file = File.Create(partial);
            await using (file.ConfigureAwait(false))
            {
                await response.Content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            }
        }

        File.Move(partial, destination, overwrite: true);
        Log.Fetched(_logger, source, destination, new FileInfo(destination).Length);
    }

    /// <summary>The downlink: the interface named <see cref="DownlinkInterface"/> with a MAC and an address.</summary>
    private static IPv4.Types.Interface? Downlink(NodeRecord cfg) =>
        cfg.GetExtension<IPv4>(StandardExtensions.IPv4) is { } ipv4
        && ipv4.Interfaces.TryGetValue(DownlinkInterface, out var iface) && iface.HasMac && iface.HasIp
            ? iface
            : null;

    private static Service.Types.State? ServiceState(NodeRecord? cfg, string service)
    {
        if (cfg is null)
        {
            return null;
        }

        foreach (var s in cfg.Services)
        {
            if (s.Id == service)
            {
                return s.HasState ? s.State : null;
            }
        }

        return null;
    }

    private void Report(string service, Service.Types.State state)
    {
        try
        {
            _store.Set(StateView.Dsc, _self, _store.Schema.ServiceState(service), StateValue.FromEnum(state));
        }
        catch (Exception e) when (e is StateException or KeyNotFoundException)
        {
            Log.ReportFailed(_logger, service, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_pxeServices is { } services)
        {
            _pxeServices = null;
            await services.DisposeAsync().ConfigureAwait(false);
        }

        _nodes?.Dispose();
        Power?.Dispose();
        if (_executor is { } executor)
        {
            await executor.DisposeAsync().ConfigureAwait(false);
        }

        _http.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Fetched {Source} to {Destination} ({Bytes} bytes)")]
        public static partial void Fetched(ILogger logger, Uri source, string destination, long bytes);

        [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "PXE for this node's children on {Interface} ({Address}), boot files in {Directory}")]
        public static partial void PxeStarted(ILogger logger, string @interface, IPAddress address, string directory);

        [LoggerMessage(EventId = 602, Level = LogLevel.Error, Message = "Cannot serve PXE to this node's children: {Reason}")]
        public static partial void PxeFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 603, Level = LogLevel.Warning, Message = "Cannot report service {Service} in Dsc: {Reason}")]
        public static partial void ReportFailed(ILogger logger, string service, string reason);

        [LoggerMessage(EventId = 604, Level = LogLevel.Error, Message = "The power module's executor caught an exception")]
        public static partial void ExecutorFailed(ILogger logger, Exception exception);
    }
}

/// <summary>What the node's Cfg asks of it cannot be done here (a missing interface, no boot URL).</summary>
public sealed class BootServicesException(string message) : Exception(message);
