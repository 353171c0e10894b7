// The bootstrap archive: issued only to a node's own boot, once per DHCP exchange, over HTTP and TFTP, readable by cpio.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Modules.Pxe;
using Kraken.Modules.Tests.Interop;
using Kraken.Net.Link;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.Sync;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Modules.Tests.Pxe.Boot;

[Trait("Category", "Interop")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BootstrapDeliveryTests : IAsyncLifetime
{
    private static readonly PhysicalAddress s_mac = PhysicalAddress.Parse("52-54-00-18-00-01");

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kraken-bootstrap-{Guid.NewGuid():N}");
    private readonly StateStore _store = BootNodes.Store();
    private readonly InMemorySegment _segment = new();
    private readonly BootstrapCredentials _credentials = new(TimeProvider.System);
    private NodeId _node;
    private PxeServices? _services;

    private PxeServices Services => _services!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await File.WriteAllTextAsync(Path.Combine(_dir, "vmlinuz"), "kernel");
        _node = BootNodes.Add(_store, "n1", "52:54:00:18:00:01", "127.0.0.1", 8);
        var options = new PxeOptions
        {
            Interface = "seg0",
            ServerAddress = IPAddress.Loopback,
            TftpRoot = _dir,
            TftpPort = 0,
            BootRoot = _dir,
            HttpPort = 0,
            Module = { RequirePowerOn = false },
        };
        _services = new PxeServices(options, _store, BootNodeDirectory.ChildrenOf(_store, BootNodes.Parent), TimeProvider.System, NullLoggerFactory.Instance,
            (name, filter) => _segment.Attach(name, PhysicalAddress.Parse("02-00-00-00-00-01"), filter), _credentials);
        Services.Module.Attach(new NullHost(_store));
        await Services.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string Http => $"http://127.0.0.1:{Services.Http!.LocalEndPoint.Port}/boot/bootstrap.cpio";

    private string Tftp => $"tftp://127.0.0.1:{Services.Tftp!.LocalEndPoint.Port}/boot/bootstrap.cpio";

    /// <summary>Fetches with curl; the body, or null when the server refused (404 / TFTP error).</summary>
    private byte[]? Fetch(string url)
    {
        var file = Path.Combine(_dir, "fetched");
        File.Delete(file);
        var (exit, _) = ExternalTool.Run("curl", ["-sS", "-f", "-o", file, url]);
        return exit == 0 ? File.ReadAllBytes(file) : null;
    }

    /// <summary>Unpacks an archive with Debian's cpio (an independent reader) and returns the credential file's lines.</summary>
    private string[] Unpack(byte[] archive)
    {
        var target = Path.Combine(_dir, "unpacked-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(target);
        var archivePath = Path.Combine(_dir, "archive.cpio");
        File.WriteAllBytes(archivePath, archive);
        var (exit, listing) = ExternalTool.Run("sh", ["-c", $"cd '{target}' && cpio -idv --quiet < '{archivePath}' 2>&1"]);
        Assert.True(exit == 0, listing);
        var file = Path.Combine(target, "etc", "kraken", "bootstrap");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        return File.ReadAllLines(file);
    }

    [Fact]
    public void Only_after_its_dhcp_exchange_a_node_gets_its_credential_once_over_http()
    {
        Assert.Null(Fetch(Http)); // no boot under way

        Services.Module.ObserveDhcp(s_mac, _node, acked: true, bootClient: true);
        var archive = Fetch(Http);
        Assert.NotNull(archive);
        var lines = Unpack(archive);
        Assert.Equal(_node.ToString(), lines[1]);
        var delivered = Convert.FromHexString(lines[0]);
        Assert.Equal(BootstrapCredentials.Size, delivered.Length);

        // The credential the archive carries is the one the sync engine will accept from this node's address.
        Assert.True(_credentials.TryGet(_node, new IPEndPoint(IPAddress.Loopback, 40000), out var issued, out _));
        Assert.Equal(delivered, issued);

        // Once per boot: a second fetch (a replay of the boot's files) gets nothing.
        Assert.Null(Fetch(Http));
        Assert.Equal(1, _credentials.Issued);

        // The next boot gets a new one, and the old one is void.
        Services.Module.ObserveDhcp(s_mac, _node, acked: true, bootClient: true);
        var next = Convert.FromHexString(Unpack(Fetch(Http)!)[0]);
        Assert.NotEqual(delivered, next);
        Assert.True(_credentials.TryGet(_node, new IPEndPoint(IPAddress.Loopback, 40000), out var current, out _));
        Assert.Equal(next, current);
    }

    [Fact]
    public void A_boot_over_tftp_gets_its_credential_the_same_way()
    {
        Assert.Null(Fetch(Tftp));
        Services.Module.ObserveDhcp(s_mac, _node, acked: true, bootClient: true);
        var lines = Unpack(Fetch(Tftp)!);
        Assert.Equal(_node.ToString(), lines[1]);
        Assert.Null(Fetch(Tftp));
    }

    [Fact]
    public void An_operating_system_renewing_its_lease_gets_no_credential()
    {
        Services.Module.ObserveDhcp(s_mac, _node, acked: true, bootClient: false);
        Assert.Null(Fetch(Http));
        Assert.Equal(0, _credentials.Issued);
    }

    private sealed class NullHost(StateStore store) : IReconcileHost
    {
        public NodeId Self => BootNodes.Parent;

        public StateStore Store => store;

        public void Discover(NodeId node, StateUrl url, StateValue value) => store.Set(StateView.Dsc, node, url, value);

        public void Discover(NodeId node, string url, string value) => store.Set(StateView.Dsc, node, url, value);

        public void ReportFailure(MutationRequest request, string reason)
        {
        }

        public void SetAvailable(bool available)
        {
        }
    }
}
