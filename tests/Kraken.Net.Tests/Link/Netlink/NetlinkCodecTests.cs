// The netlink codec against replies recorded from a real kernel: parsing, every truncation, odd lengths, alignment.
using System.Buffers.Binary;
using System.Net;
using Kraken.Net.Link;
using Kraken.Net.Link.Internal.Netlink;
using Kraken.Net.Packets;

namespace Kraken.Net.Tests.Link.Netlink;

public class NetlinkCodecTests
{
    /// <summary>Feeds datagrams to one exchange, parsing data messages as the configurator does.</summary>
    private static (NetlinkExchange Exchange, List<LinkInfo> Links, List<(int, Ipv4InterfaceAddress)> Addresses, List<Ipv4Route> Routes) Run(
        uint sequence, bool dump, params byte[][] datagrams)
    {
        var links = new List<LinkInfo>();
        var addresses = new List<(int, Ipv4InterfaceAddress)>();
        var routes = new List<Ipv4Route>();
        var exchange = new NetlinkExchange(sequence, dump ? Parse : null);
        foreach (var datagram in datagrams)
        {
            exchange.Process(datagram);
        }

        return (exchange, links, addresses, routes);

        void Parse(ushort type, ReadOnlySpan<byte> payload)
        {
            switch (type)
            {
                case Rtnl.RtmNewLink:
                    links.Add(RouteCodec.ReadLink(payload));
                    break;
                case Rtnl.RtmNewAddr when RouteCodec.TryReadAddress(payload, out var index, out var address):
                    addresses.Add((index, address));
                    break;
                case Rtnl.RtmNewRoute when RouteCodec.TryReadMainRoute(payload, out var route):
                    routes.Add(route);
                    break;
            }
        }
    }

    private static (NetlinkExchange Exchange, List<LinkInfo> Links, List<(int, Ipv4InterfaceAddress)> Addresses, List<Ipv4Route> Routes) RunRecorded(string name) =>
        Run(NetlinkTestData.RecordedSequence(name), name is "links" or "addresses" or "routes", [.. NetlinkTestData.Recorded(name)]);

    [Fact]
    public void The_recorded_link_dump_spans_two_datagrams_and_yields_every_interface()
    {
        Assert.Equal(2, NetlinkTestData.Recorded("links").Count(d => BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(4)) == Rtnl.RtmNewLink));
        var (exchange, links, _, _) = RunRecorded("links");

        Assert.True(exchange.Finished);
        Assert.Equal(0, exchange.Reply.Errno);
        Assert.False(exchange.Reply.Interrupted);
        // A veth pair's peer is created first: kv1 has index 2, kv0 index 3.
        Assert.Equal(["lo", "kv1", "kv0", "kv3", "kv2"], links.Select(l => l.Name));
        Assert.Equal([1, 2, 3, 4, 5], links.Select(l => l.Index));
        var lo = links.Single(l => l.Name == "lo");
        Assert.True(lo.IsLoopback);
        Assert.False(lo.IsUp);
        Assert.Equal(65536, lo.Mtu);
        Assert.Equal(new MacAddress(0), lo.Mac);
        var kv0 = links.Single(l => l.Name == "kv0");
        Assert.Equal(MacAddress.Read([0x52, 0x54, 0x00, 0x18, 0x00, 0x11]), kv0.Mac);
        Assert.True(kv0.IsUp);
        Assert.Equal(1500, kv0.Mtu);
        Assert.False(links.Single(l => l.Name == "kv2").IsUp);
        Assert.Equal(MacAddress.Read([0x52, 0x54, 0x00, 0x18, 0x00, 0x14]), links.Single(l => l.Name == "kv3").Mac);
    }

    [Fact]
    public void The_recorded_address_and_route_dumps_yield_the_ipv4_addresses_and_the_main_table()
    {
        var (_, links, _, _) = RunRecorded("links");
        var kv0 = links.Single(l => l.Name == "kv0").Index;
        var kv1 = links.Single(l => l.Name == "kv1").Index;

        var (exchange, _, addresses, _) = RunRecorded("addresses");
        Assert.True(exchange.Finished);
        Assert.Equal(2, addresses.Count);
        Assert.Contains((kv0, new Ipv4InterfaceAddress(IPAddress.Parse("198.18.0.11"), 24, IPAddress.Parse("198.18.0.255"))), addresses);
        Assert.Contains((kv1, new Ipv4InterfaceAddress(IPAddress.Parse("198.18.1.12"), 30, null)), addresses);   // added without brd

        var (routeExchange, _, _, routes) = RunRecorded("routes");
        Assert.True(routeExchange.Finished);
        var defaultRoute = Assert.Single(routes, r => r.IsDefault);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), defaultRoute.Gateway);
        Assert.Equal(kv0, defaultRoute.InterfaceIndex);
        Assert.Equal(Rtnl.RtprotBoot, defaultRoute.Protocol);
        var connected = Assert.Single(routes, r => r.Destination.Equals(IPAddress.Parse("198.18.0.0")));
        Assert.Equal(24, connected.PrefixLength);
        Assert.Null(connected.Gateway);
        Assert.DoesNotContain(routes, r => r.Destination.Equals(IPAddress.Parse("198.18.0.11")));    // local table, not main
    }

    [Theory]
    [InlineData("addexisting", 17, "ipv4: Address already assigned")]
    [InlineData("mtutoobig", 22, "mtu greater than device maximum")]
    [InlineData("mtuok", 0, null)]
    public void Recorded_acks_carry_the_errno_and_the_kernels_text(string name, int errno, string? text)
    {
        var (exchange, _, _, _) = RunRecorded(name);
        Assert.True(exchange.Finished);
        Assert.Equal(errno, exchange.Reply.Errno);
        Assert.Equal(text, exchange.Reply.KernelMessage);
    }

    [Fact]
    public void Every_truncation_of_every_recorded_datagram_is_a_protocol_error_unless_it_ends_between_messages()
    {
        var checkedLengths = 0;
        var expected = 0;
        foreach (var name in NetlinkTestData.RecordedNames)
        {
            var sequence = NetlinkTestData.RecordedSequence(name);
            var dump = name is "links" or "addresses" or "routes";
            foreach (var datagram in NetlinkTestData.Recorded(name))
            {
                expected += datagram.Length - 1;
                var ends = NetlinkTestData.Messages(datagram).Select(m => m.Start + m.Length).ToHashSet();
                var starts = NetlinkTestData.Messages(datagram).Select(m => m.Start).ToHashSet();
                for (var length = 1; length < datagram.Length; length++)
                {
                    var cut = datagram[..length];
                    if (ends.Contains(length) || starts.Contains(length))
                    {
                        Run(sequence, dump, cut);     // whole messages: parses, no exception
                    }
                    else
                    {
                        Assert.Throws<NetlinkProtocolException>(() => Run(sequence, dump, cut));
                    }

                    checkedLengths++;
                }
            }
        }

        Assert.Equal(expected, checkedLengths);
        Assert.True(expected > 6000);
    }

    [Fact]
    public void Every_shortened_message_length_parses_or_is_a_protocol_error_and_a_cut_attribute_always_is()
    {
        var cutAttributes = 0;
        foreach (var name in NetlinkTestData.RecordedNames)
        {
            var sequence = NetlinkTestData.RecordedSequence(name);
            var dump = name is "links" or "addresses" or "routes";
            foreach (var datagram in NetlinkTestData.Recorded(name))
            {
                foreach (var (start, length) in NetlinkTestData.Messages(datagram))
                {
                    var type = BinaryPrimitives.ReadUInt16LittleEndian(datagram.AsSpan(start + 4));
                    var fixedLength = type switch
                    {
                        Rtnl.RtmNewLink => Rtnl.IfInfoLength,
                        Rtnl.RtmNewAddr => Rtnl.IfAddrLength,
                        Rtnl.RtmNewRoute => Rtnl.RtMsgLength,
                        Rtnl.NlmsgError => Rtnl.ErrorLength,
                        _ => -1,
                    };
                    var attributeEnds = fixedLength < 0 ? [] : AttributeEnds(datagram.AsSpan(start + Rtnl.HeaderLength + fixedLength, length - Rtnl.HeaderLength - fixedLength));

                    // The message claims fewer bytes than it has and ends the datagram there.
                    for (var shorter = Rtnl.HeaderLength; shorter < length; shorter++)
                    {
                        var odd = datagram[..(start + shorter)];
                        BinaryPrimitives.WriteUInt32LittleEndian(odd.AsSpan(start), (uint)shorter);
                        var body = shorter - Rtnl.HeaderLength - fixedLength;
                        var cutsAnAttribute = fixedLength >= 0 && (body < 0 || (body > 0 && !attributeEnds.Contains(body)));
                        if (type == Rtnl.NlmsgError && (BinaryPrimitives.ReadUInt16LittleEndian(datagram.AsSpan(start + 6)) & Rtnl.NlmFAckTlvs) == 0 && body > 0)
                        {
                            cutsAnAttribute = false;    // a plain ack has nothing after its fixed part to cut
                        }

                        try
                        {
                            Run(sequence, dump, odd);
                            Assert.False(cutsAnAttribute, $"{name}: a message cut to {shorter} of {length} bytes parsed");
                        }
                        catch (NetlinkProtocolException)
                        {
                            cutAttributes += cutsAnAttribute ? 1 : 0;
                        }
                    }
                }
            }
        }

        Assert.True(cutAttributes > 1000);
    }

    private static HashSet<int> AttributeEnds(ReadOnlySpan<byte> attributes)
    {
        var ends = new HashSet<int>();
        for (var offset = 0; offset + 4 <= attributes.Length;)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(attributes[offset..]);
            for (var end = offset + length; end <= offset + ((length + 3) & ~3); end++)
            {
                ends.Add(end);      // a message may end inside the padding after its last attribute
            }

            offset += (length + 3) & ~3;
        }

        return ends;
    }

    [Fact]
    public void Attributes_are_padded_to_four_bytes_and_read_back_whatever_their_length()
    {
        var buffer = new byte[128];
        var writer = new NetlinkWriter(buffer, Rtnl.RtmNewLink, Rtnl.NlmFRequest);
        writer.Body(Rtnl.IfInfoLength);
        writer.Attribute(100, [1]);
        writer.Attribute(101, [1, 2]);
        writer.Attribute(102, [1, 2, 3]);
        writer.Attribute(103, [1, 2, 3, 4, 5]);
        writer.Attribute(104, []);
        var length = writer.Finish();

        // Header 16, body 16, then 5+3, 6+2, 7+1, 9+3, 4: the last attribute needs no padding.
        Assert.Equal(16 + 16 + 8 + 8 + 8 + 12 + 4, length);
        Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(buffer));
        int[] offsets = [32, 40, 48, 56, 68];
        int[] sizes = [5, 6, 7, 9, 4];
        for (var i = 0; i < offsets.Length; i++)
        {
            Assert.Equal(sizes[i], BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offsets[i])));   // rta_len leaves the padding out
            Assert.Equal(0, offsets[i] % 4);
        }

        var messages = new NetlinkMessageReader(buffer.AsSpan(0, length));
        Assert.True(messages.TryRead(out var message));
        Assert.False(messages.TryRead(out _));
        var attributes = new NetlinkAttributeReader(message.Payload[Rtnl.IfInfoLength..]);
        var read = new List<(ushort, byte[])>();
        while (attributes.TryRead(out var type, out var value))
        {
            read.Add((type, value.ToArray()));
        }

        Assert.Equal([100, 101, 102, 103, 104], read.Select(r => (int)r.Item1));
        Assert.Equal([1, 2, 3, 5, 0], read.Select(r => r.Item2.Length));
        Assert.Equal([1, 2, 3, 4, 5], read[3].Item2);
    }

    [Fact]
    public void A_last_attribute_and_a_last_message_may_end_without_their_padding()
    {
        // An attribute of 5 bytes ends the message at 16 + 16 + 5 = 37: no padding follows in the datagram.
        var link = NetlinkTestData.Link(7, "e", MacAddress.Read([2, 0, 0, 0, 0, 7]), 1500);
        var buffer = new byte[64];
        var writer = new NetlinkWriter(buffer, Rtnl.RtmNewLink, Rtnl.NlmFMulti);
        writer.Body(Rtnl.IfInfoLength)[4] = 9;
        writer.Attribute(Rtnl.IflaIfname, "x\0"u8);
        var unpadded = buffer[..writer.Finish()];
        Assert.Equal(38, unpadded.Length);
        var datagram = NetlinkTestData.Pack([link], 4096)[0].Concat(unpadded).ToArray();

        var (_, links, _, _) = Run(0, dump: true, datagram);

        Assert.Equal(["e", "x"], links.Select(l => l.Name));
        Assert.Equal(9, links[1].Index);
        Assert.Null(links[1].Mac);
    }

    [Theory]
    [InlineData("length below a header", 8, 0)]
    [InlineData("length past the datagram", 200, 0)]
    [InlineData("attribute length below its header", 0, 2)]
    [InlineData("attribute length past the message", 0, 999)]
    public void Odd_lengths_are_protocol_errors(string what, int messageLength, int attributeLength)
    {
        var link = NetlinkTestData.Link(2, "eth0", MacAddress.Read([2, 0, 0, 0, 0, 2]), 1500);
        if (messageLength > 0)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(link, (uint)messageLength);
        }

        if (attributeLength > 0)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(link.AsSpan(Rtnl.HeaderLength + Rtnl.IfInfoLength), (ushort)attributeLength);
        }

        var e = Assert.Throws<NetlinkProtocolException>(() => Run(0, dump: true, link));
        Assert.StartsWith("netlink: ", e.Message, StringComparison.Ordinal);
        Assert.NotEmpty(what);
    }

    [Fact]
    public void Attribute_values_of_the_wrong_size_are_protocol_errors()
    {
        static byte[] LinkWith(ushort type, byte[] value)
        {
            var buffer = new byte[128];
            var writer = new NetlinkWriter(buffer, Rtnl.RtmNewLink, Rtnl.NlmFMulti);
            writer.Body(Rtnl.IfInfoLength);
            writer.Attribute(Rtnl.IflaIfname, "eth0\0"u8);
            writer.Attribute(type, value);
            return buffer[..writer.Finish()];
        }

        Assert.Contains("IFLA_MTU is 2 bytes", Assert.Throws<NetlinkProtocolException>(() => Run(0, true, LinkWith(Rtnl.IflaMtu, [0, 5]))).Message, StringComparison.Ordinal);
        Assert.Contains("IFLA_IFNAME of 16", Assert.Throws<NetlinkProtocolException>(() => Run(0, true, LinkWith(Rtnl.IflaIfname, "abcdefghijklmnop\0"u8.ToArray()))).Message, StringComparison.Ordinal);
        Assert.Contains("IFLA_IFNAME of 0", Assert.Throws<NetlinkProtocolException>(() => Run(0, true, LinkWith(Rtnl.IflaIfname, [0]))).Message, StringComparison.Ordinal);

        var address = new byte[64];
        var writer = new NetlinkWriter(address, Rtnl.RtmNewAddr, Rtnl.NlmFMulti);
        var body = writer.Body(Rtnl.IfAddrLength);
        body[0] = Rtnl.AfInet;
        body[1] = 24;
        writer.Attribute(Rtnl.IfaLocal, new byte[16]);
        var message = address[..writer.Finish()];
        var e = Assert.Throws<NetlinkProtocolException>(() => Run(0, true, message));
        Assert.Contains("IFA_LOCAL is 16 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Control_messages_out_of_place_are_protocol_errors()
    {
        var positive = NetlinkTestData.Control(Rtnl.NlmsgError, 5);
        Assert.Contains("not 0 or a negative errno", Assert.Throws<NetlinkProtocolException>(() => Run(0, false, positive)).Message, StringComparison.Ordinal);

        var done = NetlinkTestData.Control(Rtnl.NlmsgDone, 0);
        Assert.Contains("not a dump", Assert.Throws<NetlinkProtocolException>(() => Run(0, false, done)).Message, StringComparison.Ordinal);

        var overrun = NetlinkTestData.Control(Rtnl.NlmsgOverrun, 0);
        Assert.Contains("NLMSG_OVERRUN", Assert.Throws<NetlinkProtocolException>(() => Run(0, true, overrun)).Message, StringComparison.Ordinal);

        var shortError = NetlinkTestData.Control(Rtnl.NlmsgError, 0)[..18];
        BinaryPrimitives.WriteUInt32LittleEndian(shortError, 18);
        Assert.Contains("shorter than its 20-byte body", Assert.Throws<NetlinkProtocolException>(() => Run(0, false, shortError)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Messages_of_other_sequence_numbers_are_skipped()
    {
        var stale = NetlinkTestData.Stamp(NetlinkTestData.Control(Rtnl.NlmsgError, -17), 41);
        var current = NetlinkTestData.Stamp(NetlinkTestData.Control(Rtnl.NlmsgError, 0), 42);

        var (exchange, _, _, _) = Run(42, false, stale);
        Assert.False(exchange.Finished);
        exchange.Process(current);
        Assert.True(exchange.Finished);
        Assert.Equal(0, exchange.Reply.Errno);
    }

    [Fact]
    public void Requests_have_the_layout_the_kernel_reads()
    {
        var buffer = new byte[RouteCodec.MaxRequestLength];
        var length = RouteCodec.Address(buffer, add: true, index: 3, address: 0xC612000B, prefixLength: 24, broadcast: 0xC61200FF);
        Assert.Equal(
            "30000000" + "1400" + "0506" + "00000000" + "00000000"      // nlmsghdr: RTM_NEWADDR, REQUEST|ACK|EXCL|CREATE
            + "02180000" + "03000000"                                  // ifaddrmsg: AF_INET /24, ifindex 3
            + "08000200C612000B" + "08000100C612000B" + "08000400C61200FF", // IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST
            Convert.ToHexString(buffer, 0, length));

        length = RouteCodec.SetLink(buffer, index: 3, flags: Rtnl.IffUp, change: Rtnl.IffUp, mtu: 9000);
        Assert.Equal(
            "28000000" + "1000" + "0500" + "00000000" + "00000000"
            + "0000" + "0000" + "03000000" + "01000000" + "01000000"
            + "08000400" + "28230000",
            Convert.ToHexString(buffer, 0, length));

        length = RouteCodec.DefaultRoute(buffer, add: true, index: 3, gateway: 0xC6120001);
        Assert.Equal(
            "2C000000" + "1800" + "0506" + "00000000" + "00000000"
            + "02000000" + "FE030001" + "00000000"                     // rtmsg: AF_INET, /0, main, boot, universe, unicast
            + "08000500C6120001" + "0800040003000000",                   // RTA_GATEWAY, RTA_OIF
            Convert.ToHexString(buffer, 0, length));
    }
}
