// The DHCP server on a real raw link inside a namespace, against clients we did not write: busybox udhcpc,
// ISC dhclient, and ISC dhcrelay as a real relay.
using System.Net;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Modules.Tests.Pxe.Dhcp;

[Trait("Category", "Network")]
[Trait("Category", "Interop")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class DhcpInteropTests
{
    private static readonly NodeId Node = NodeId.FromName("n0010");

    private const string UdhcpcScript = """
        [ "$1" = bound ] || exit 0
        {
          echo "ip=$ip"; echo "subnet=$subnet"; echo "router=$router"; echo "hostname=$hostname"
          echo "lease=$lease"; echo "serverid=$serverid"; echo "domain=$domain"; echo "dns=$dns"
        } > "$(dirname "$0")/udhcpc.env"
        """;

    private const string DhclientScript = """
        [ "$reason" = BOUND ] || exit 0
        {
          echo "ip=$new_ip_address"; echo "subnet=$new_subnet_mask"; echo "router=$new_routers"
          echo "hostname=$new_host_name"; echo "lease=$new_dhcp_lease_time"; echo "domain=$new_domain_name"
          echo "serverid=$new_dhcp_server_identifier"
        } > "$(dirname "$0")/dhclient.env"
        """;

    private sealed class RunningServer : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly IRawLink _link;
        private readonly Task _run;

        public RunningServer(DhcpNamespaces net, RawLinkKind kind, DhcpBindingTable bindings)
        {
            _link = NetworkNamespace.OpenLink(net.ServerNs, net.ServerIf, kind, new RawLinkFilter(UdpPort: DhcpServer.ServerPort));
            Server = new DhcpServer(new DhcpServerOptions
            {
                ServerAddress = IPAddress.Parse("198.18.0.1"),
                LeaseTime = TimeSpan.FromSeconds(900),
                DnsServers = [IPAddress.Parse("198.18.0.53")],
                DomainName = "cluster.test",
            }, _link, bindings, TimeProvider.System, NullLogger.Instance);
            _run = Server.RunAsync(_stop.Token);
        }

        public DhcpServer Server { get; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(TimeSpan.FromSeconds(5));
            await _link.DisposeAsync();
            _stop.Dispose();
        }
    }

    private static DhcpBindingTable Bind(MacAddress mac, string address, string gateway) =>
        new([new(mac, new DhcpBinding(Node, IPAddress.Parse(address), 24, IPAddress.Parse(gateway), "n0010"))]);

    [Theory]
    [InlineData(RawLinkKind.Pcap)]
    [InlineData(RawLinkKind.AfPacket)]
    public async Task Udhcpc_gets_its_configured_address(RawLinkKind kind)
    {
        using var net = new DhcpNamespaces();
        await using var dhcp = new RunningServer(net, kind, Bind(net.ClientMac, "198.18.0.10", "198.18.0.254"));
        var script = net.Script("udhcpc.sh", UdhcpcScript);

        var (exit, output, _) = net.Run(net.ClientNs, TimeSpan.FromSeconds(30),
            "busybox", "udhcpc", "-i", net.ClientIf, "-s", script, "-q", "-f", "-n", "-t", "5", "-T", "2", "-A", "1", "-O", "hostname");

        Assert.True(exit == 0, $"udhcpc exited {exit}: {output}\nserver: {dhcp.Server.Counters}");
        var lease = DhcpNamespaces.ReadEnvironment(net.PathOf("udhcpc.env"));
        Assert.Equal("198.18.0.10", lease["ip"]);
        Assert.Equal("255.255.255.0", lease["subnet"]);
        Assert.Equal("198.18.0.254", lease["router"]);
        Assert.Equal("n0010", lease["hostname"]);
        Assert.Equal("900", lease["lease"]);
        Assert.Equal("198.18.0.1", lease["serverid"]);
        Assert.Equal("cluster.test", lease["domain"]);
        Assert.Equal("198.18.0.53", lease["dns"]);
        Assert.Equal(1, dhcp.Server.Counters.Sent(DhcpMessageType.Ack));
    }

    [Fact]
    public async Task Dhclient_gets_its_configured_address()
    {
        using var net = new DhcpNamespaces();
        await using var dhcp = new RunningServer(net, RawLinkKind.AfPacket, Bind(net.ClientMac, "198.18.0.11", "198.18.0.1"));
        var script = net.Script("dhclient.sh", DhclientScript);
        var config = net.PathOf("dhclient.conf");
        File.WriteAllText(config, "request subnet-mask, routers, host-name, domain-name, domain-name-servers, dhcp-lease-time;\ntimeout 20;\n");
        var pidFile = net.PathOf("dhclient.pid");

        var (exit, output, _) = net.Run(net.ClientNs, TimeSpan.FromSeconds(30),
            "dhclient", "-4", "-1", "-v", "-cf", config, "-sf", script, "-pf", pidFile, "-lf", net.PathOf("dhclient.leases"), net.ClientIf);
        net.KillAtEnd(DhcpNamespaces.Pid(pidFile));   // the daemon it left behind

        Assert.True(exit == 0, $"dhclient exited {exit}: {output}\nserver: {dhcp.Server.Counters}");
        var lease = DhcpNamespaces.ReadEnvironment(net.PathOf("dhclient.env"));
        Assert.Equal("198.18.0.11", lease["ip"]);
        Assert.Equal("255.255.255.0", lease["subnet"]);
        Assert.Equal("198.18.0.1", lease["router"]);
        Assert.Equal("n0010", lease["hostname"]);
        Assert.Equal("900", lease["lease"]);
        Assert.Equal("cluster.test", lease["domain"]);
        Assert.Equal("198.18.0.1", lease["serverid"]);
        Assert.Contains("198.18.0.11", File.ReadAllText(net.PathOf("dhclient.leases")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_mac_gets_no_offer_and_is_counted()
    {
        using var net = new DhcpNamespaces();
        await using var dhcp = new RunningServer(net, RawLinkKind.Pcap, Bind(new MacAddress(0x5254_00ee_0001), "198.18.0.10", "198.18.0.1"));
        var script = net.Script("udhcpc.sh", UdhcpcScript);

        var (exit, output, _) = net.Run(net.ClientNs, TimeSpan.FromSeconds(30),
            "busybox", "udhcpc", "-i", net.ClientIf, "-s", script, "-q", "-f", "-n", "-t", "2", "-T", "1", "-A", "1");

        Assert.True(exit != 0, output);
        Assert.False(File.Exists(net.PathOf("udhcpc.env")));
        Assert.True(dhcp.Server.Counters.UnknownClients >= 1, dhcp.Server.Counters.ToString());
        Assert.Equal(0, dhcp.Server.Counters.TotalSent);
    }

    [Fact]
    public async Task A_client_behind_dhcrelay_is_answered_through_the_relay()
    {
        using var net = new DhcpNamespaces(relay: true);
        await using var dhcp = new RunningServer(net, RawLinkKind.AfPacket, Bind(net.ClientMac, "198.18.1.20", "198.18.1.1"));
        var relay = net.Start(net.RelayNs!, "dhcrelay", "-4", "-d", "-iu", net.RelayUp, "-id", net.RelayDown, "198.18.0.1");
        var relayOutput = relay.StandardError.ReadToEndAsync();
        await Task.Delay(500);    // let it open its sockets
        var script = net.Script("udhcpc.sh", UdhcpcScript);

        var (exit, output, _) = net.Run(net.ClientNs, TimeSpan.FromSeconds(30),
            "busybox", "udhcpc", "-i", net.ClientIf, "-s", script, "-q", "-f", "-n", "-t", "5", "-T", "2", "-A", "1");

        if (exit != 0)
        {
            relay.Kill();
        }

        Assert.True(exit == 0, $"udhcpc exited {exit}: {output}\nserver: {dhcp.Server.Counters}\nrelay: {(exit != 0 ? await relayOutput : "")}");
        var lease = DhcpNamespaces.ReadEnvironment(net.PathOf("udhcpc.env"));
        Assert.Equal("198.18.1.20", lease["ip"]);
        Assert.Equal("198.18.1.1", lease["router"]);
        Assert.Equal("198.18.0.1", lease["serverid"]);
        Assert.True(dhcp.Server.Counters.Sent(DhcpMessageType.Offer) >= 1);
    }
}
