// TFTP and HTTP boot listen on ServerAddress only: checked in /proc/net/udp and /proc/net/tcp and by trying
// another local address; an address that is not this host's stops the start naming ServerAddress.
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Kraken.Modules.Pxe;
using Kraken.Modules.Tests.Interop;
using Kraken.Net.Link;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Modules.Tests.Pxe.Boot;

[Trait("Category", "Interop")]
public sealed class PxeServicesBindTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-pxebind-").FullName;
    private readonly StateStore _store = BootNodes.Store();
    private readonly InMemorySegment _segment = new();

    public PxeServicesBindTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "tftp"));
        Directory.CreateDirectory(Path.Combine(_dir, "boot"));
        File.WriteAllText(Path.Combine(_dir, "tftp", "undionly.kpxe"), "tftp");
        File.WriteAllText(Path.Combine(_dir, "boot", "vmlinuz"), "http");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Tftp_and_http_boot_listen_on_the_server_address_only()
    {
        await using var services = Services(IPAddress.Parse("127.0.0.2"));
        await services.StartAsync(CancellationToken.None);
        var tftp = services.Tftp!.LocalEndPoint;
        var http = services.Http!.LocalEndPoint;
        Assert.Equal(IPAddress.Parse("127.0.0.2"), tftp.Address);
        Assert.Equal(IPAddress.Parse("127.0.0.2"), http.Address);

        // The kernel's socket tables: bound to 127.0.0.2 (0200007F), not to any address (00000000).
        Assert.Equal(["0200007F"], Listeners("/proc/net/udp", tftp.Port));
        Assert.Equal(["0200007F"], Listeners("/proc/net/tcp", http.Port));

        // Served on 127.0.0.2, refused on 127.0.0.1.
        var tftpOut = Path.Combine(_dir, "tftp.out");
        Assert.Equal(0, ExternalTool.Run("curl", ["-sS", "-o", tftpOut, $"tftp://127.0.0.2:{Port(tftp)}/undionly.kpxe"]).ExitCode);
        Assert.Equal("tftp", File.ReadAllText(tftpOut));
        Assert.Equal("http", ExternalTool.Run("curl", ["-sS", $"http://127.0.0.2:{Port(http)}/vmlinuz"]).Output);

        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(new IPEndPoint(IPAddress.Loopback, http.Port)));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        // A connected UDP socket learns of the port unreachable that 127.0.0.1 answers.
        var seen = services.Tftp.Counters.Requests + services.Tftp.Counters.DroppedTotal;
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await udp.ConnectAsync(new IPEndPoint(IPAddress.Loopback, tftp.Port));
        await udp.SendAsync("\0\u0001undionly.kpxe\0octet\0"u8.ToArray());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var e = await Assert.ThrowsAsync<SocketException>(async () => await udp.ReceiveAsync(new byte[600], SocketFlags.None, cts.Token));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(seen, services.Tftp.Counters.Requests + services.Tftp.Counters.DroppedTotal);
    }

    [Fact]
    public async Task An_address_that_is_not_this_hosts_stops_the_start_naming_ServerAddress()
    {
        // 198.18.255.254 is assigned to no interface here; nothing is sent to it, the bind alone fails.
        await using var services = Services(IPAddress.Parse("198.18.255.254"));
        var e = await Assert.ThrowsAsync<PxeConfigException>(() => services.StartAsync(CancellationToken.None));
        Assert.Equal("ServerAddress", e.Key);
        Assert.Contains("not an address of this host", e.Message, StringComparison.Ordinal);
    }

    private PxeServices Services(IPAddress address) => new(
        new PxeOptions
        {
            Interface = "seg0",
            ServerAddress = address,
            TftpRoot = Path.Combine(_dir, "tftp"),
            TftpPort = 0,
            BootRoot = Path.Combine(_dir, "boot"),
            HttpPort = 0,
            RouterAdvertisements = false,
        },
        _store,
        _ => true,
        TimeProvider.System,
        NullLoggerFactory.Instance,
        (name, filter) => _segment.Attach(name, PhysicalAddress.Parse("02-00-00-00-00-01"), filter));

    private static string Port(IPEndPoint endPoint) => endPoint.Port.ToString(CultureInfo.InvariantCulture);

    // The local addresses (hex, as the kernel prints them) of the sockets bound to this port.
    private static string[] Listeners(string table, int port)
    {
        var suffix = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        return [.. File.ReadAllLines(table).Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])
            .Where(local => local.EndsWith(suffix, StringComparison.Ordinal))
            .Select(local => local[..^suffix.Length])
            .Distinct()];
    }
}
