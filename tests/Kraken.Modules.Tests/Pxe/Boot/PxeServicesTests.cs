// The composed PXE services on loopback sockets and an in-memory segment: rendered TFTP files, directory
// fallback, HTTP files, and the fetches turned into PXE state by the module.
using System.Net;
using System.Net.NetworkInformation;
using System.Security.Cryptography;
using Kraken.Modules.Pxe;
using Kraken.Modules.Tests.Interop;
using Kraken.Net.Link;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;
using PacketDotNet;

namespace Kraken.Modules.Tests.Pxe.Boot;

[Trait("Category", "Interop")]
public sealed class PxeServicesTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kraken-pxe-{Guid.NewGuid():N}");
    private readonly StateStore _store = BootNodes.Store();
    private readonly InMemorySegment _segment = new();
    private readonly byte[] _kernel = RandomNumberGenerator.GetBytes(300_000);
    private readonly byte[] _initrd = RandomNumberGenerator.GetBytes(100_000);
    private NodeId _node;
    private PxeServices? _services;

    private PxeServices Services => _services!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "tftp"));
        Directory.CreateDirectory(Path.Combine(_dir, "boot"));
        await File.WriteAllBytesAsync(Path.Combine(_dir, "tftp", "vmlinuz"), _kernel);
        await File.WriteAllBytesAsync(Path.Combine(_dir, "boot", "initrd.img"), _initrd);
        _node = BootNodes.Add(_store, "n1", "52:54:00:18:00:01", "127.0.0.1", 8, pxeDsc: "INIT");
        var options = new PxeOptions
        {
            Interface = "seg0",
            ServerAddress = IPAddress.Loopback,
            TftpRoot = Path.Combine(_dir, "tftp"),
            TftpPort = 0,
            BootRoot = Path.Combine(_dir, "boot"),
            HttpPort = 0,
            Module = { RequirePowerOn = false },
        };
        _services = new PxeServices(options, _store, BootNodeDirectory.ChildrenOf(_store, BootNodes.Parent), TimeProvider.System, NullLoggerFactory.Instance,
            (name, filter) => _segment.Attach(name, PhysicalAddress.Parse("02-00-00-00-00-01"), filter));
        Services.Module.Attach(new StoreHost(_store));
        await Services.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private string Tftp(string path) => $"tftp://127.0.0.1:{Services.Tftp!.LocalEndPoint.Port}/{path}";

    private string Http(string path) => $"http://127.0.0.1:{Services.Http!.LocalEndPoint.Port}/{path}";

    private byte[] Curl(string url)
    {
        var file = Path.Combine(_dir, "out");
        var (exit, output) = ExternalTool.Run("curl", ["-sS", "-f", "-o", file, url]);
        Assert.True(exit == 0, $"{url}: {output}");
        return File.ReadAllBytes(file);
    }

    private string Pxe() => _store.GetRequired(StateView.Dsc, _node).Get(PxeModule.StateUrl).ToString();

    [Fact]
    public void Tftp_serves_the_clients_rendered_files_first_then_the_directory()
    {
        var script = System.Text.Encoding.UTF8.GetString(Curl(Tftp("boot.ipxe")));
        Assert.StartsWith("#!ipxe\nkernel http://127.0.0.1:0/vmlinuz", script, StringComparison.Ordinal);
        Assert.Contains("kraken.name=n1 kraken.mac=52:54:00:18:00:01 kraken.ip=127.0.0.1 kraken.net=8", script, StringComparison.Ordinal);
        var pxelinux = System.Text.Encoding.UTF8.GetString(Curl(Tftp("pxelinux.cfg/01-52-54-00-18-00-01")));
        Assert.Contains("APPEND initrd=initrd.img console=ttyS0", pxelinux, StringComparison.Ordinal);
        Assert.Equal(_kernel, Curl(Tftp("vmlinuz")));
        Assert.NotEqual(0, ExternalTool.Run("curl", ["-sS", "-f", "-o", "/dev/null", Tftp("pxelinux.cfg/01-52-54-00-18-00-02")]).ExitCode);
    }

    [Fact]
    public async Task Kernel_over_tftp_and_initrd_over_http_complete_the_boot()
    {
        Assert.Equal(_kernel, Curl(Tftp("vmlinuz")));
        Assert.Equal(_initrd, Curl(Http("initrd.img")));
        Assert.True(await PowerNodesEventually(() => Pxe() == "COMP"), $"PXE state {Pxe()}");
    }

    [Fact]
    public async Task Router_solicitations_on_the_segment_are_answered()
    {
        var vm = _segment.Attach("vm", new PhysicalAddress([0x52, 0x54, 0x00, 0x18, 0x4d, 0x0b]), new RawLinkFilter(Icmpv6: true));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await vm.SendAsync(RouterAdvertiserTests.Solicitation(), cts.Token);
        var buffer = new byte[1600];
        var n = await vm.ReceiveAsync(buffer, cts.Token);
        var icmp = ((EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, buffer[..n])).Extract<IcmpV6Packet>();
        Assert.Equal(IcmpV6Type.RouterAdvertisement, icmp.Type);
        await vm.DisposeAsync();
    }

    [Fact]
    public async Task Bad_options_name_their_key()
    {
        PxeConfigException Bad(Action<PxeOptions> change)
        {
            var o = new PxeOptions { Interface = "seg0", ServerAddress = IPAddress.Loopback, BootRoot = _dir };
            change(o);
            return Assert.Throws<PxeConfigException>(() => new PxeServices(o, _store, _ => true, TimeProvider.System, NullLoggerFactory.Instance));
        }

        Assert.Equal("Interface", Bad(o => o.Interface = "").Key);
        Assert.Equal("ServerAddress", Bad(o => o.ServerAddress = IPAddress.IPv6Loopback).Key);
        Assert.Equal("TftpRoot", Bad(o => o.BootRoot = null).Key);
        Assert.Equal("BootRoot", Bad(o => o.BootRoot = "/nonexistent/boot").Key);
        Assert.Equal("HttpPort", Bad(o => o.HttpPort = 70000).Key);
        Assert.Equal("Boot:IpxeTemplate", Bad(o => o.Boot.IpxeTemplate = "{{nope}}").Key);
        Assert.Equal("Module:DhcpTimeout", Bad(o => o.Module.DhcpTimeout = TimeSpan.Zero).Key);
        await Task.CompletedTask;
    }

    private static Task<bool> PowerNodesEventually(Func<bool> condition) => Power.PowerNodes.Eventually(condition, TimeSpan.FromSeconds(10));

    /// <summary>A reconcile host that writes discoveries straight to the store's Dsc.</summary>
    private sealed class StoreHost(StateStore store) : IReconcileHost
    {
        public NodeId Self => BootNodes.Parent;

        public StateStore Store => store;

        public void Discover(NodeId node, StateUrl url, StateValue value) => store.Set(StateView.Dsc, node, url, value);

        public void Discover(NodeId node, string url, string value) => store.Set(StateView.Dsc, node, url, value);

        public void ReportFailure(MutationRequest request, string reason) => throw new InvalidOperationException(reason);

        public void SetAvailable(bool available)
        {
        }
    }
}
