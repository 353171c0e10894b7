// Raw links: the in-memory segment, and libpcap and AF_PACKET links on a veth pair between two namespaces.
using System.Net.NetworkInformation;
using Kraken.Net.Link;
using Kraken.Net.Packets;

namespace Kraken.Net.Tests.Link;

public class InMemorySegmentTests
{
    private static readonly RawLinkFilter Dhcp = new(UdpPort: 67);

    private static byte[] Udp(MacAddress from, MacAddress to, ushort port, int size = 10)
    {
        var frame = new byte[UdpFrame.HeaderLength + size];
        UdpFrame.Write(frame, from, to, 0xC6120002, 0xC6120001, 68, port, new byte[size]);
        return frame;
    }

    [Fact]
    public async Task Broadcasts_reach_every_other_port_and_unicasts_only_their_destination()
    {
        var segment = new InMemorySegment();
        var a = new MacAddress(0x0200_0000_000a);
        var b = new MacAddress(0x0200_0000_000b);
        var c = new MacAddress(0x0200_0000_000c);
        await using var linkA = segment.Attach("a", a.ToPhysicalAddress());
        await using var linkB = segment.Attach("b", b.ToPhysicalAddress());
        await using var linkC = segment.Attach("c", c.ToPhysicalAddress());

        await linkA.SendAsync(Udp(a, MacAddress.Broadcast, 67));
        await linkA.SendAsync(Udp(a, c, 67, 20));

        var buffer = new byte[1514];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal(UdpFrame.HeaderLength + 10, await linkB.ReceiveAsync(buffer, timeout.Token));
        Assert.Equal(UdpFrame.HeaderLength + 10, await linkC.ReceiveAsync(buffer, timeout.Token));
        Assert.Equal(UdpFrame.HeaderLength + 20, await linkC.ReceiveAsync(buffer, timeout.Token));
        Assert.Equal(3, segment.Delivered);

        using var brief = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await linkA.ReceiveAsync(buffer, brief.Token));
        using var brief2 = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await linkB.ReceiveAsync(buffer, brief2.Token));
    }

    [Fact]
    public async Task A_filter_admits_only_what_it_names()
    {
        var segment = new InMemorySegment();
        var a = new MacAddress(0x0200_0000_000a);
        await using var sender = segment.Attach("a", a.ToPhysicalAddress());
        await using var server = segment.Attach("s", PhysicalAddress.Parse("02-00-00-00-00-01"), Dhcp);

        await sender.SendAsync(Udp(a, MacAddress.Broadcast, 68));
        await sender.SendAsync(Udp(a, MacAddress.Broadcast, 67, 33));

        var buffer = new byte[1514];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal(UdpFrame.HeaderLength + 33, await server.ReceiveAsync(buffer, timeout.Token));
        Assert.Equal(1, segment.Delivered);
    }

    [Fact]
    public void The_software_filter_reads_ports_behind_ip_options_and_skips_fragments()
    {
        var frame = Udp(new MacAddress(2), MacAddress.Broadcast, 67);
        Assert.True(Dhcp.Matches(frame));
        Assert.False(new RawLinkFilter(UdpPort: 68).Matches(frame));
        Assert.True(new RawLinkFilter(EtherType: 0x0800).Matches(frame));
        Assert.False(new RawLinkFilter(Icmpv6: true).Matches(frame));
        Assert.True(RawLinkFilter.All.Matches(frame));

        var fragment = (byte[])frame.Clone();
        fragment[21] = 1;   // fragment offset 8
        Assert.False(Dhcp.Matches(fragment));
        Assert.Equal("(ip and udp dst port 67) or (ip6 and ip6 proto 58)", new RawLinkFilter(UdpPort: 67, Icmpv6: true).ToPcapExpression());
    }
}

[Trait("Category", "Network")]
public class RealRawLinkTests
{
    [Theory]
    [InlineData(RawLinkKind.Pcap)]
    [InlineData(RawLinkKind.AfPacket)]
    public async Task Kernel_filter_passes_only_the_udp_port_and_hides_our_own_frames(RawLinkKind kind)
    {
        using var net = new VethNamespaces();
        await using var server = NetworkNamespace.OpenLink(net.NamespaceA, net.InterfaceA, kind, new RawLinkFilter(UdpPort: 67));
        await using var client = NetworkNamespace.OpenLink(net.NamespaceB, net.InterfaceB, RawLinkKind.AfPacket, new RawLinkFilter(UdpPort: 67));

        Assert.Equal(net.InterfaceA, server.Name);
        Assert.Equal(1500, server.Mtu);
        Assert.Equal(6, server.HardwareAddress.GetAddressBytes().Length);
        var serverMac = MacAddress.From(server.HardwareAddress);
        var clientMac = MacAddress.From(client.HardwareAddress);

        var buffer = new byte[2048];
        var frame = new byte[UdpFrame.HeaderLength + 100];
        for (var i = 0; i < 3; i++)
        {
            UdpFrame.Write(frame, clientMac, MacAddress.Broadcast, 0, Ipv4.Broadcast, 68, 68, new byte[100]);
            await client.SendAsync(frame);                                     // wrong port: filtered in the kernel
            UdpFrame.Write(frame, clientMac, serverMac, 0xC6120002, 0xC6120001, 68, 67, Enumerable.Repeat((byte)i, 100).ToArray());
            await client.SendAsync(frame);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 3; i++)
        {
            var length = await server.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(UdpParseStatus.Ok, UdpFrame.Parse(buffer.AsSpan(0, length), out var info));
            Assert.Equal(67, info.DestinationPort);
            Assert.Equal(clientMac, info.SourceMac);
            Assert.Equal((byte)i, info.Payload(buffer.AsSpan(0, length))[0]);
        }

        // Our own frame to port 67 goes out but does not come back to us.
        UdpFrame.Write(frame, serverMac, MacAddress.Broadcast, 0xC6120001, 0xC612FFFF, 67, 67, new byte[100]);
        await server.SendAsync(frame);
        var echoed = await client.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal(frame.Length, echoed);
        using var brief = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await server.ReceiveAsync(buffer, brief.Token));
    }

    /// <summary>
    /// A link asked for a multicast group joins it on the NIC (what makes a virtio or real NIC pass router
    /// solicitations to all-routers on a host that forwards nothing), for as long as it is open.
    /// </summary>
    [Fact]
    public async Task An_af_packet_link_joins_its_multicast_group_while_open()
    {
        using var net = new VethNamespaces();
        string Groups() => VethNamespaces.IpOutput("-n", net.NamespaceA, "maddr", "show", "dev", net.InterfaceA);
        Assert.DoesNotContain("33:33:00:00:00:02", Groups(), StringComparison.Ordinal); // no forwarding: not joined

        var link = NetworkNamespace.OpenLink(net.NamespaceA, net.InterfaceA, RawLinkKind.AfPacket, new RawLinkFilter(Icmpv6: true, Multicast: new MacAddress(0x3333_0000_0002)));
        Assert.Contains("link  33:33:00:00:00:02", Groups(), StringComparison.Ordinal);

        await link.DisposeAsync();
        Assert.DoesNotContain("33:33:00:00:00:02", Groups(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RawLinkKind.Pcap)]
    [InlineData(RawLinkKind.AfPacket)]
    public async Task EtherType_and_icmpv6_filters_select_their_frames(RawLinkKind kind)
    {
        using var net = new VethNamespaces();
        await using var either = NetworkNamespace.OpenLink(net.NamespaceA, net.InterfaceA, kind, new RawLinkFilter(UdpPort: 67, EtherType: 0x88b5));
        await using var icmp = NetworkNamespace.OpenLink(net.NamespaceA, net.InterfaceA, kind, new RawLinkFilter(Icmpv6: true));
        await using var sender = NetworkNamespace.OpenLink(net.NamespaceB, net.InterfaceB, RawLinkKind.AfPacket, RawLinkFilter.All);
        var from = MacAddress.From(sender.HardwareAddress);

        var experimental = new byte[60];
        MacAddress.Broadcast.Write(experimental);
        from.Write(experimental.AsSpan(6));
        experimental[12] = 0x88;
        experimental[13] = 0xb5;
        experimental[14] = 0xee;

        var icmpv6 = new byte[14 + 40 + 8];
        new MacAddress(0x3333_0000_0002).Write(icmpv6);       // all-routers multicast
        from.Write(icmpv6.AsSpan(6));
        icmpv6[12] = 0x86;
        icmpv6[13] = 0xdd;
        icmpv6[14] = 0x60;
        icmpv6[19] = 8;         // payload length
        icmpv6[20] = 58;        // next header ICMPv6
        icmpv6[21] = 255;
        icmpv6[54] = 133;       // router solicitation

        var wrongPort = new byte[UdpFrame.HeaderLength + 8];
        UdpFrame.Write(wrongPort, from, MacAddress.Broadcast, 0, Ipv4.Broadcast, 68, 68, new byte[8]);
        var rightPort = new byte[UdpFrame.HeaderLength + 9];
        UdpFrame.Write(rightPort, from, MacAddress.Broadcast, 0, Ipv4.Broadcast, 68, 67, new byte[9]);

        foreach (var frame in new[] { wrongPort, icmpv6, experimental, rightPort })
        {
            await sender.SendAsync(frame);
        }

        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(experimental.Length, await either.ReceiveAsync(buffer, timeout.Token));
        Assert.Equal(0xee, buffer[14]);
        Assert.Equal(rightPort.Length, await either.ReceiveAsync(buffer, timeout.Token));

        // The kernel may add its own router solicitations and neighbour discovery: skip to ours.
        while (true)
        {
            var length = await icmp.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(58, buffer[20]);
            if (length == icmpv6.Length && buffer[54] == 133 && MacAddress.Read(buffer.AsSpan(6)) == from)
            {
                break;
            }
        }

        using var brief = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await either.ReceiveAsync(buffer, brief.Token));
    }

    /// <summary>
    /// Closing a link while another thread blocks in its Receive (the DHCP server's thread at shutdown) ends that
    /// Receive; libpcap's handle is not freed under it, which killed the daemon with SIGSEGV on SIGTERM. Repeated:
    /// the window was a fraction of the read timeout. A regression takes the test process down with it.
    /// </summary>
    [Theory]
    [InlineData(RawLinkKind.Pcap)]
    [InlineData(RawLinkKind.AfPacket)]
    public async Task Disposing_a_link_under_a_blocked_receive_ends_the_receive_and_never_crashes(RawLinkKind kind)
    {
        using var net = new VethNamespaces();
        await using var client = NetworkNamespace.OpenLink(net.NamespaceB, net.InterfaceB, RawLinkKind.AfPacket, new RawLinkFilter(UdpPort: 68));
        var frame = new byte[UdpFrame.HeaderLength + 100];
        UdpFrame.Write(frame, MacAddress.From(client.HardwareAddress), MacAddress.Broadcast, 0xC6120002, Ipv4.Broadcast, 68, 67, new byte[100]);
        for (var round = 0; round < 10; round++)
        {
            var link = (IBlockingRawLink)NetworkNamespace.OpenLink(net.NamespaceA, net.InterfaceA, kind, new RawLinkFilter(UdpPort: 67));
            using var stop = new CancellationTokenSource();
            var reader = new Thread(() =>
            {
                var buffer = new byte[2048];
                try
                {
                    while (true)
                    {
                        link.Receive(buffer, stop.Token);
                    }
                }
                catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
                {
                    // Ended by the close.
                }
            }) { IsBackground = true };
            reader.Start();

            // Frames keep the reader inside libpcap's buffer as often as in its poll.
            for (var i = 0; i < 50; i++)
            {
                await client.SendAsync(frame);
            }

            await Task.Delay(20 * round);
            await link.DisposeAsync();
            await stop.CancelAsync();
            Assert.True(reader.Join(TimeSpan.FromSeconds(5)), $"round {round}: the blocked Receive did not end after the close");
        }
    }
}
