// The DHCP server on an in-memory segment: RFC 2131 exchanges, addressing, PXE answers, relays, bad input.
using System.Diagnostics.Metrics;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Packets;
using static Kraken.Modules.Tests.Pxe.Dhcp.InMemoryDhcp;

namespace Kraken.Modules.Tests.Pxe.Dhcp;

public class DhcpServerTests
{
    private static byte[] Discover(ushort flags = 0, Action<DhcpWriterBox>? options = null, MacAddress? mac = null, uint giaddr = 0) =>
        DhcpFrames.Message(DhcpMessageType.Discover, mac ?? ClientMac, flags: flags, giaddr: giaddr, options: options);

    [Fact]
    public async Task Discover_and_request_get_the_bound_address_and_configuration()
    {
        await using var dhcp = new InMemoryDhcp();

        var offer = await dhcp.Exchange(Discover(DhcpMessage.BroadcastFlag));
        Assert.Equal(DhcpMessage.BootReply, offer.Message.Op);
        Assert.Equal(DhcpMessageType.Offer, offer.Message.MessageType);
        Assert.Equal(0x1234_5678u, offer.Message.TransactionId);
        Assert.Equal(Ip.Of("198.18.0.10"), offer.Message.YourAddress);
        Assert.Equal(ClientMac, offer.Message.ClientMac);
        Assert.Equal(MacAddress.Broadcast, offer.Udp.DestinationMac);   // broadcast bit set
        Assert.Equal(Ipv4.Broadcast, offer.Udp.DestinationIp);
        Assert.Equal(ServerMac, offer.Udp.SourceMac);
        Assert.Equal(Ip.Of("198.18.0.1"), offer.Udp.SourceIp);
        Assert.Equal((67, 68), (offer.Udp.SourcePort, offer.Udp.DestinationPort));
        Assert.Equal(Ip.Of("198.18.0.1"), offer.Address(DhcpOption.ServerIdentifier));
        Assert.Equal(Ip.Of("255.255.255.0"), offer.Address(DhcpOption.SubnetMask));
        Assert.Equal(Ip.Of("198.18.0.255"), offer.Address(DhcpOption.BroadcastAddress));
        Assert.Equal(Ip.Of("198.18.0.254"), offer.Address(DhcpOption.Router));
        Assert.Equal([198, 18, 0, 1, 198, 18, 0, 2], offer.Option(DhcpOption.DomainNameServer).ToArray());
        Assert.Equal("n0010", offer.Text(DhcpOption.HostName));
        Assert.Equal("cluster.test", offer.Text(DhcpOption.DomainName));
        Assert.Equal(1200u, offer.Address(DhcpOption.LeaseTime));
        Assert.Equal(600u, offer.Address(DhcpOption.RenewalTime));
        Assert.Equal(1050u, offer.Address(DhcpOption.RebindingTime));
        Assert.False(offer.Message.BootFile.Present);   // a plain client gets no boot file
        Assert.Equal(0u, offer.Message.ServerAddress);

        var ack = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Request, ClientMac, flags: DhcpMessage.BroadcastFlag,
            options: o => o.Address(DhcpOption.ServerIdentifier, DhcpFrames.ServerIp).Address(DhcpOption.RequestedAddress, Ip.Of("198.18.0.10"))));
        Assert.Equal(DhcpMessageType.Ack, ack.Message.MessageType);
        Assert.Equal(Ip.Of("198.18.0.10"), ack.Message.YourAddress);
        Assert.Equal(1200u, ack.Address(DhcpOption.LeaseTime));

        Assert.Equal(1, dhcp.Server.Counters.Received(DhcpMessageType.Discover));
        Assert.Equal(1, dhcp.Server.Counters.Sent(DhcpMessageType.Offer));
        Assert.Equal(1, dhcp.Server.Counters.Sent(DhcpMessageType.Ack));
        Assert.Collection(dhcp.Observations,
            o => Assert.Equal(("DISCOVER", (Kraken.Tree.State.NodeId?)Node, "198.18.0.10", false, DhcpClientArch.Other, false),
                (o.MessageType, o.Node, o.Assigned?.ToString(), o.Acked, o.Arch, o.IsIpxe)),
            o => Assert.Equal(("REQUEST", "198.18.0.10", true), (o.MessageType, o.Assigned?.ToString(), o.Acked)));
        Assert.Equal(Ip.Mac(ClientMac), dhcp.Observations[0].Mac);
    }

    [Fact]
    public async Task Without_the_broadcast_bit_the_offer_is_unicast_to_yiaddr_at_chaddr()
    {
        await using var dhcp = new InMemoryDhcp();
        var offer = await dhcp.Exchange(Discover());
        Assert.Equal(ClientMac, offer.Udp.DestinationMac);
        Assert.Equal(Ip.Of("198.18.0.10"), offer.Udp.DestinationIp);
    }

    public static TheoryData<string, byte[], string, string?> BootCases() => new()
    {
        { "bios", Discover(options: o => o.Add(DhcpOption.ClientArch, 0, 0).Text(DhcpOption.VendorClass, "PXEClient:Arch:00000:UNDI:002001")), "undionly.kpxe", "PXEClient" },
        { "uefi x64", Discover(options: o => o.Add(DhcpOption.ClientArch, 0, 7).Text(DhcpOption.VendorClass, "PXEClient:Arch:00007:UNDI:003016")), "ipxe.efi", "PXEClient" },
        { "uefi bc", Discover(options: o => o.Add(DhcpOption.ClientArch, 0, 9).Text(DhcpOption.VendorClass, "PXEClient:Arch:00009:UNDI:003016")), "ipxe.efi", "PXEClient" },
        { "http boot", Discover(options: o => o.Add(DhcpOption.ClientArch, 0, 16).Text(DhcpOption.VendorClass, "HTTPClient:Arch:00016:UNDI:003001")), $"http://198.18.0.1:8080/boot/{Node}/shim.efi", "HTTPClient" },
        { "ipxe by 175", Discover(options: o => o.Add(DhcpOption.ClientArch, 0, 0).Text(DhcpOption.VendorClass, "PXEClient:Arch:00000:UNDI:002001").Add(DhcpOption.Ipxe, 19, 1, 1)), $"http://198.18.0.1:8080/boot/{Node}.ipxe?mac=52:54:00:18:00:10", "PXEClient" },
        { "ipxe by user class", Discover(options: o => o.Text(DhcpOption.UserClass, "iPXE")), $"http://198.18.0.1:8080/boot/{Node}.ipxe?mac=52:54:00:18:00:10", null },
        { "old rom without 93", Discover(options: o => o.Text(DhcpOption.VendorClass, "PXEClient")), "undionly.kpxe", "PXEClient" },
    };

    [Theory]
    [MemberData(nameof(BootCases))]
    public async Task Boot_answers_follow_the_client_architecture(string name, byte[] discover, string file, string? vendorClass)
    {
        await using var dhcp = new InMemoryDhcp();
        var offer = await dhcp.Exchange(discover);
        Assert.True(file == offer.File, $"{name}: {offer.File}");
        Assert.Equal(Ip.Of("198.18.0.1"), offer.Message.ServerAddress);    // next-server
        Assert.Equal(vendorClass, offer.Has(DhcpOption.VendorClass) ? offer.Text(DhcpOption.VendorClass) : null);
        var ipxe = name.StartsWith("ipxe", StringComparison.Ordinal);
        Assert.Equal(ipxe, offer.Has(DhcpOption.Ipxe));
        if (ipxe)
        {
            Assert.Equal([DhcpOption.IpxeNoPxeDhcp, 1, 1], offer.Option(DhcpOption.Ipxe).ToArray());
            Assert.True(dhcp.Observations[0].IsIpxe);
        }

        Assert.Equal(vendorClass == "PXEClient" && !ipxe, offer.Has(DhcpOption.VendorSpecific));
    }

    [Fact]
    public async Task Uuid_is_echoed_boot_file_option_given_when_asked_and_ipxe_no_pxedhcp_can_be_off()
    {
        await using var dhcp = new InMemoryDhcp(o => o.IpxeNoPxeDhcp = false);
        byte[] uuid = [0, .. Enumerable.Range(0x40, 16).Select(i => (byte)i)];
        var offer = await dhcp.Exchange(Discover(options: o => o.Add(DhcpOption.ClientArch, 0, 7).Add(DhcpOption.ClientUuid, uuid)
            .Add(DhcpOption.ParameterRequestList, 1, 3, 66, 67).Add(DhcpOption.Ipxe, 19, 1, 1)));
        Assert.Equal(uuid, offer.Option(DhcpOption.ClientUuid).ToArray());
        Assert.Equal(offer.File, offer.Text(DhcpOption.BootFileName));
        Assert.Equal("198.18.0.1", offer.Text(DhcpOption.TftpServerName));
        Assert.False(offer.Has(DhcpOption.Ipxe));
        Assert.Equal(DhcpClientArch.UefiX64, dhcp.Observations[0].Arch);
    }

    [Fact]
    public async Task Request_states_are_acked_or_naked_as_rfc2131_says()
    {
        await using var dhcp = new InMemoryDhcp();
        uint bound = Ip.Of("198.18.0.10"), wrong = Ip.Of("198.18.0.99");

        // SELECTING with a wrong address: NAK, broadcast.
        var nak = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Request, ClientMac,
            options: o => o.Address(DhcpOption.ServerIdentifier, DhcpFrames.ServerIp).Address(DhcpOption.RequestedAddress, wrong)));
        Assert.Equal(DhcpMessageType.Nak, nak.Message.MessageType);
        Assert.Equal(0u, nak.Message.YourAddress);
        Assert.Equal(MacAddress.Broadcast, nak.Udp.DestinationMac);
        Assert.Equal(DhcpFrames.ServerIp, nak.Address(DhcpOption.ServerIdentifier));
        Assert.False(nak.Has(DhcpOption.LeaseTime));

        // INIT-REBOOT: right address ACKed, wrong NAKed.
        var ack = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Request, ClientMac, options: o => o.Address(DhcpOption.RequestedAddress, bound)));
        Assert.Equal(DhcpMessageType.Ack, ack.Message.MessageType);
        nak = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Request, ClientMac, options: o => o.Address(DhcpOption.RequestedAddress, wrong)));
        Assert.Equal(DhcpMessageType.Nak, nak.Message.MessageType);

        // RENEWING: unicast to us, answered by unicast to ciaddr.
        ack = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Request, ClientMac, ciaddr: bound), sourceIp: bound, destinationIp: DhcpFrames.ServerIp);
        Assert.Equal(DhcpMessageType.Ack, ack.Message.MessageType);
        Assert.Equal(bound, ack.Udp.DestinationIp);
        Assert.Equal(ClientMac, ack.Udp.DestinationMac);
        Assert.Equal(bound, ack.Message.YourAddress);

        // REBINDING from a wrong address: NAK.
        nak = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Request, ClientMac, ciaddr: wrong), sourceIp: wrong);
        Assert.Equal(DhcpMessageType.Nak, nak.Message.MessageType);

        // SELECTING another server: silence. A REQUEST that fits no state: silence.
        await dhcp.Send(DhcpFrames.Frame(DhcpFrames.Message(DhcpMessageType.Request, ClientMac,
            options: o => o.Address(DhcpOption.ServerIdentifier, Ip.Of("198.18.0.77")).Address(DhcpOption.RequestedAddress, bound)), ClientMac));
        await dhcp.Send(DhcpFrames.Frame(DhcpFrames.Message(DhcpMessageType.Request, ClientMac), ClientMac));
        await dhcp.ExpectSilence();
        Assert.Equal(1, dhcp.Server.Counters.Dropped(DhcpDropReason.OtherServer));
        Assert.Equal(1, dhcp.Server.Counters.Dropped(DhcpDropReason.BadRequest));
        Assert.Equal(7, dhcp.Observations.Count);     // every REQUEST, answered or not
        Assert.Equal(2, dhcp.Observations.Count(o => o.Acked));
        Assert.Equal(3, dhcp.Server.Counters.Sent(DhcpMessageType.Nak));
    }

    [Fact]
    public async Task Relayed_messages_are_answered_to_the_relay_on_port_67()
    {
        await using var dhcp = new InMemoryDhcp();
        var giaddr = Ip.Of("198.18.1.1");
        byte[] agent = [1, 4, (byte)'p', (byte)'o', (byte)'r', (byte)'t', 2, 2, 0xab, 0xcd];     // circuit id, remote id
        var offer = await dhcp.Exchange(Discover(mac: RelayedMac, giaddr: giaddr, options: o => o.Add(DhcpOption.RelayAgentInformation, agent)), viaRelay: true, sourceIp: Ip.Of("198.18.0.2"), destinationIp: DhcpFrames.ServerIp);
        Assert.Equal(DhcpMessageType.Offer, offer.Message.MessageType);
        Assert.Equal(RelayMac, offer.Udp.DestinationMac);
        Assert.Equal(giaddr, offer.Udp.DestinationIp);
        Assert.Equal((67, 67), (offer.Udp.SourcePort, offer.Udp.DestinationPort));
        Assert.Equal(giaddr, offer.Message.RelayAddress);
        Assert.Equal(Ip.Of("198.18.1.20"), offer.Message.YourAddress);
        Assert.Equal(Ip.Of("198.18.1.1"), offer.Address(DhcpOption.Router));
        Assert.Equal(agent, offer.Option(DhcpOption.RelayAgentInformation).ToArray());

        var nak = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Request, RelayedMac, giaddr: giaddr,
            options: o => o.Address(DhcpOption.RequestedAddress, Ip.Of("198.18.0.10"))), viaRelay: true, destinationIp: DhcpFrames.ServerIp);
        Assert.Equal(DhcpMessageType.Nak, nak.Message.MessageType);
        Assert.True(nak.Message.Broadcast);     // so the relay broadcasts it on the client's segment
        Assert.Equal(giaddr, nak.Udp.DestinationIp);
        await dhcp.ExpectSilence();
    }

    [Fact]
    public async Task Inform_gets_configuration_without_address_or_lease()
    {
        await using var dhcp = new InMemoryDhcp();
        var bound = Ip.Of("198.18.0.10");
        var ack = await dhcp.Exchange(DhcpFrames.Message(DhcpMessageType.Inform, ClientMac, ciaddr: bound), sourceIp: bound, destinationIp: DhcpFrames.ServerIp);
        Assert.Equal(DhcpMessageType.Ack, ack.Message.MessageType);
        Assert.Equal(0u, ack.Message.YourAddress);
        Assert.Equal(bound, ack.Message.ClientAddress);
        Assert.Equal(bound, ack.Udp.DestinationIp);
        Assert.False(ack.Has(DhcpOption.LeaseTime));
        Assert.Equal(Ip.Of("198.18.0.254"), ack.Address(DhcpOption.Router));
    }

    [Fact]
    public async Task Decline_and_release_are_observed_and_not_answered()
    {
        await using var dhcp = new InMemoryDhcp();
        var bound = Ip.Of("198.18.0.10");
        await dhcp.Send(DhcpFrames.Frame(DhcpFrames.Message(DhcpMessageType.Decline, ClientMac,
            options: o => o.Address(DhcpOption.ServerIdentifier, DhcpFrames.ServerIp).Address(DhcpOption.RequestedAddress, bound)), ClientMac));
        await dhcp.Send(DhcpFrames.Frame(DhcpFrames.Message(DhcpMessageType.Release, ClientMac, ciaddr: bound,
            options: o => o.Address(DhcpOption.ServerIdentifier, DhcpFrames.ServerIp)), ClientMac, bound, DhcpFrames.ServerIp, ServerMac));
        await dhcp.ExpectSilence();
        Assert.Equal(["DECLINE", "RELEASE"], dhcp.Observations.Select(o => o.MessageType));
        Assert.All(dhcp.Observations, o => Assert.Equal("198.18.0.10", o.Assigned?.ToString()));
        Assert.Equal(0, dhcp.Server.Counters.TotalSent);
    }

    [Fact]
    public async Task Unknown_macs_get_nothing_and_are_counted()
    {
        await using var dhcp = new InMemoryDhcp();
        var stranger = new MacAddress(0x5254_00ff_0001);
        await dhcp.Send(DhcpFrames.Frame(Discover(mac: stranger), stranger));
        await dhcp.ExpectSilence();
        Assert.Equal(1, dhcp.Server.Counters.UnknownClients);
        Assert.Equal(1, dhcp.Server.Counters.Received(DhcpMessageType.Discover));
        var seen = Assert.Single(dhcp.Observations);
        Assert.Null(seen.Node);
        Assert.Null(seen.Assigned);
    }

    [Fact]
    public async Task Malformed_frames_are_dropped_by_reason_and_the_server_keeps_answering()
    {
        await using var dhcp = new InMemoryDhcp();
        var good = Discover();
        var random = new Random(7);
        var noise = new byte[400];
        random.NextBytes(noise);
        var cases = new (byte[] Payload, DhcpDropReason Reason)[]
        {
            (good[..100], DhcpDropReason.Truncated),
            ([.. good[..240], 53, 1, 1, 50, 2, 1, 2, 255], DhcpDropReason.BadOptionLength),
            ([.. good[..240], 53, 1, 1, 12, 250, 1, 2, 255], DhcpDropReason.OptionOverflow),
            (With(good, b => b[2] = 255), DhcpDropReason.BadHardwareAddress),
            (With(good, b => b[1] = 6), DhcpDropReason.BadHardwareAddress),
            ([.. good[..240], 53, 1, 1], DhcpDropReason.MissingEnd),
            (noise, DhcpDropReason.NoMagicCookie),
            (With(good, b => b[0] = DhcpMessage.BootReply), DhcpDropReason.WrongOp),
            (DhcpFrames.Message(DhcpMessageType.Offer, ClientMac), DhcpDropReason.BadMessageType),
            (DhcpFrames.Message((DhcpMessageType)99, ClientMac), DhcpDropReason.BadMessageType),
            ([.. good[..240], 12, 1, 65, 255], DhcpDropReason.NoMessageType),
        };
        foreach (var (payload, _) in cases)
        {
            await dhcp.Send(DhcpFrames.Frame(payload, ClientMac));
        }

        var badChecksum = DhcpFrames.Frame(good, ClientMac);
        badChecksum[^1] ^= 0xff;
        await dhcp.Send(badChecksum);
        await dhcp.Send(DhcpFrames.Frame(good, ClientMac, destinationIp: Ip.Of("198.18.0.50"), destinationMac: ServerMac));

        var offer = await dhcp.Exchange(good);
        Assert.Equal(DhcpMessageType.Offer, offer.Message.MessageType);
        var counters = dhcp.Server.Counters;
        foreach (var reason in cases.Select(c => c.Reason).Distinct())
        {
            Assert.True(cases.Count(c => c.Reason == reason) == counters.Dropped(reason), $"{reason}: {counters}");
        }

        Assert.Equal(1, counters.Dropped(DhcpDropReason.BadFrame));
        Assert.Equal(1, counters.Dropped(DhcpDropReason.NotForUs));
        Assert.Equal(1, counters.Received(DhcpMessageType.Discover));
    }

    [Fact]
    public async Task A_reply_that_cannot_fit_the_clients_maximum_size_is_dropped_and_counted()
    {
        await using var dhcp = new InMemoryDhcp(o =>
        {
            o.DnsServers = Enumerable.Range(1, 63).Select(i => System.Net.IPAddress.Parse($"198.18.2.{i}")).ToList();
            o.DomainName = string.Join('.', Enumerable.Repeat("a-rather-long-label", 12));
        });
        await dhcp.Send(DhcpFrames.Frame(Discover(options: o => o.Add(DhcpOption.MaxMessageSize, 0x02, 0x40)), ClientMac));   // 576
        await dhcp.ExpectSilence();
        Assert.Equal(1, dhcp.Server.Counters.Dropped(DhcpDropReason.ReplyTooLarge));

        var offer = await dhcp.Exchange(Discover(options: o => o.Add(DhcpOption.MaxMessageSize, 0x05, 0xdc)));     // 1500
        Assert.Equal(63 * 4, offer.Option(DhcpOption.DomainNameServer).Length);
    }

    [Fact]
    public void Answering_allocates_nothing_per_message()
    {
        var link = new Kraken.Net.Link.InMemorySegment().Attach("x", ServerMac.ToPhysicalAddress());
        var bindings = new DhcpBindingTable([new(ClientMac, new DhcpBinding(Node, System.Net.IPAddress.Parse("198.18.0.10"), 24,
            System.Net.IPAddress.Parse("198.18.0.254"), "n0010"))]);
        var server = new DhcpServer(new DhcpServerOptions { ServerAddress = System.Net.IPAddress.Parse("198.18.0.1"), DomainName = "cluster.test" },
            link, bindings, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var discover = DhcpFrames.Frame(Discover(options: o => o.Add(DhcpOption.ClientArch, 0, 7).Text(DhcpOption.VendorClass, "PXEClient")), ClientMac);
        var request = DhcpFrames.Frame(DhcpFrames.Message(DhcpMessageType.Request, ClientMac,
            options: o => o.Address(DhcpOption.ServerIdentifier, DhcpFrames.ServerIp).Address(DhcpOption.RequestedAddress, Ip.Of("198.18.0.10"))), ClientMac);
        var output = new byte[1514];
        for (var i = 0; i < 100; i++)
        {
            server.Process(discover, output);
            server.Process(request, output);
        }

        var replies = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            replies += server.Process(discover, output) > 0 ? 1 : 0;
            replies += server.Process(request, output) > 0 ? 1 : 0;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(2000, replies);
        Assert.Equal(0, allocated);
        Assert.Equal(1100, server.Counters.Sent(DhcpMessageType.Ack));
    }

    [Fact]
    public void Frames_that_slip_past_the_filter_are_not_dhcp()
    {
        var dhcpLink = new Kraken.Net.Link.InMemorySegment().Attach("x", ServerMac.ToPhysicalAddress());
        var server = new DhcpServer(new DhcpServerOptions { ServerAddress = System.Net.IPAddress.Parse("198.18.0.1") }, dhcpLink,
            DhcpBindingTable.Empty, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var output = new byte[1514];
        Assert.Equal(0, server.Process(new byte[60], output));
        Assert.Equal(0, server.Process(DhcpFrames.Frame(Discover(), ClientMac, destinationPort: 68), output));
        Assert.Equal(2, server.Counters.Dropped(DhcpDropReason.NotDhcp));
    }

    [Fact]
    public async Task Counters_are_published_on_the_kraken_dhcp_meter()
    {
        var seen = new List<(string Name, long Value, string? Type)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == DhcpCounters.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? type = null;
            var mine = false;
            foreach (var tag in tags)
            {
                type = tag.Key is "type" or "reason" ? tag.Value as string : type;
                mine |= tag.Key == "interface" && tag.Value as string == "srv0";
            }

            if (mine)
            {
                lock (seen)
                {
                    seen.Add((instrument.Name, value, type));
                }
            }
        });
        listener.Start();

        await using var dhcp = new InMemoryDhcp();
        await dhcp.Exchange(Discover());
        var stranger = new MacAddress(0x5254_00ff_0002);
        await dhcp.Send(DhcpFrames.Frame(Discover(mac: stranger), stranger));
        await dhcp.ExpectSilence();

        lock (seen)
        {
            Assert.Contains(("kraken.dhcp.messages.received", 1L, "DISCOVER"), seen);
            Assert.Contains(("kraken.dhcp.messages.sent", 1L, "OFFER"), seen);
            Assert.Contains(("kraken.dhcp.frames.dropped", 1L, "unknown_client"), seen);

            // Every series is published at zero when the server starts, before its first event.
            Assert.Contains(("kraken.dhcp.messages.received", 0L, "INFORM"), seen);
            Assert.Contains(("kraken.dhcp.messages.sent", 0L, "NAK"), seen);
            Assert.Contains(("kraken.dhcp.frames.dropped", 0L, "not_dhcp"), seen);
        }
    }

    [Fact]
    public void Options_are_validated_naming_the_setting()
    {
        var bad = new DhcpServerOptions { ServerAddress = System.Net.IPAddress.IPv6Loopback };
        Assert.Contains("ServerAddress", Assert.Throws<ArgumentException>(bad.Validate).Message);
        bad = new DhcpServerOptions { ServerAddress = System.Net.IPAddress.Parse("198.18.0.1"), LeaseTime = TimeSpan.FromSeconds(5) };
        Assert.Contains("LeaseTime", Assert.Throws<ArgumentException>(bad.Validate).Message);
        bad = new DhcpServerOptions { ServerAddress = System.Net.IPAddress.Parse("198.18.0.1"), BiosBootFile = new string('x', 200) };
        Assert.Contains("BiosBootFile", Assert.Throws<ArgumentException>(bad.Validate).Message);
    }

    private static byte[] With(byte[] bytes, Action<byte[]> change)
    {
        var copy = (byte[])bytes.Clone();
        change(copy);
        return copy;
    }
}
