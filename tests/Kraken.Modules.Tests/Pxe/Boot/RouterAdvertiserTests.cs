// Router solicitations in, advertisements out: parsing, validity rules, frame layout, checked with PacketDotNet.
using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Modules.Pxe.Ipv6;
using Kraken.Net.Link;
using Microsoft.Extensions.Logging.Abstractions;
using PacketDotNet;

namespace Kraken.Modules.Tests.Pxe.Boot;

public class RouterAdvertiserTests
{
    private static readonly byte[] s_clientMac = [0x52, 0x54, 0x00, 0x18, 0x4d, 0x0b];
    private static readonly PhysicalAddress s_serverMac = PhysicalAddress.Parse("02-00-00-18-00-01");

    /// <summary>An RS as iPXE sends it: from its link-local address to all routers, hop limit 255, with its MAC.</summary>
    internal static byte[] Solicitation(byte hopLimit = 255, bool unspecifiedSource = false, bool withOption = true, bool badChecksum = false)
    {
        var icmpLength = withOption ? 16 : 8;
        var frame = new byte[14 + 40 + icmpLength];
        new byte[] { 0x33, 0x33, 0, 0, 0, 2 }.CopyTo(frame, 0);
        s_clientMac.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x86DD);
        var ip = frame.AsSpan(14);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)icmpLength);
        ip[6] = 58;
        ip[7] = hopLimit;
        if (!unspecifiedSource)
        {
            RouterAdvertiser.LinkLocal(s_clientMac).CopyTo(ip[8..]);
        }

        IPAddress.Parse("ff02::2").GetAddressBytes().CopyTo(ip[24..]);
        var icmp = ip[40..];
        icmp[0] = 133;
        if (withOption)
        {
            icmp[8] = 1;
            icmp[9] = 1;
            s_clientMac.CopyTo(icmp[10..]);
        }

        var sum = RouterAdvertiser.Checksum(ip[8..24], ip[24..40], icmp);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)(badChecksum ? sum ^ 1 : sum));
        return frame;
    }

    [Fact]
    public void A_valid_solicitation_is_answered_unicast_with_a_lifetime_zero_advertisement_without_prefixes()
    {
        var segment = new InMemorySegment();
        var advertiser = new RouterAdvertiser(segment.Attach("srv", s_serverMac, new RawLinkFilter(Icmpv6: true)), NullLogger.Instance);
        Assert.True(RouterAdvertiser.TryParseSolicitation(Solicitation(), out var mac, out var address));
        Assert.Equal(s_clientMac, mac);
        var frame = new byte[200];
        var n = advertiser.WriteAdvertisement(frame, mac, address);

        // An independent decoder agrees on every layer and on the checksum.
        var eth = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame[..n]);
        Assert.Equal(PhysicalAddress.Parse("52-54-00-18-4D-0B"), eth.DestinationHardwareAddress);
        Assert.Equal(s_serverMac, eth.SourceHardwareAddress);
        var ip = eth.Extract<IPv6Packet>();
        Assert.Equal(IPAddress.Parse("fe80::5054:ff:fe18:4d0b"), ip.DestinationAddress);
        Assert.Equal(IPAddress.Parse("fe80::ff:fe18:1"), ip.SourceAddress);
        Assert.Equal(255, ip.HopLimit);
        var icmp = eth.Extract<IcmpV6Packet>();
        Assert.Equal(IcmpV6Type.RouterAdvertisement, icmp.Type);
        Assert.True(icmp.ValidIcmpChecksum);

        var ra = frame.AsSpan(14 + 40, n - 54);
        Assert.Equal(0, ra[5]);                                            // M = 0, O = 0
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(ra[6..]));    // router lifetime 0
        Assert.Equal(24, ra.Length);                                       // no prefix option
        Assert.Equal([1, 1, .. s_serverMac.GetAddressBytes()], ra[16..24].ToArray());
    }

    [Fact]
    public void A_solicitation_from_the_unspecified_address_is_answered_to_all_nodes()
    {
        Assert.True(RouterAdvertiser.TryParseSolicitation(Solicitation(unspecifiedSource: true, withOption: false), out var mac, out var address));
        Assert.Equal([0x33, 0x33, 0, 0, 0, 1], mac);
        Assert.Equal(IPAddress.Parse("ff02::1"), new IPAddress(address));
    }

    [Fact]
    public void Invalid_solicitations_are_dropped()
    {
        Assert.False(RouterAdvertiser.TryParseSolicitation(Solicitation(hopLimit: 64), out _, out _));           // routed from afar
        Assert.False(RouterAdvertiser.TryParseSolicitation(Solicitation(badChecksum: true), out _, out _));
        Assert.False(RouterAdvertiser.TryParseSolicitation(Solicitation(unspecifiedSource: true), out _, out _)); // RFC 4861 6.1.1
        var frame = Solicitation();
        for (var cut = 0; cut < frame.Length; cut++)
        {
            Assert.False(RouterAdvertiser.TryParseSolicitation(frame.AsSpan(0, cut), out _, out _));
        }

        var zeroLengthOption = Solicitation();
        zeroLengthOption[14 + 40 + 9] = 0;
        Assert.False(RouterAdvertiser.TryParseSolicitation(zeroLengthOption, out _, out _));
    }

    [Fact]
    public async Task Over_a_segment_each_solicitation_gets_one_advertisement_and_other_frames_are_counted()
    {
        var segment = new InMemorySegment();
        var serverLink = segment.Attach("srv", s_serverMac, new RawLinkFilter(Icmpv6: true));
        var client = segment.Attach("vm", new PhysicalAddress(s_clientMac), new RawLinkFilter(Icmpv6: true));
        var advertiser = new RouterAdvertiser(serverLink, NullLogger.Instance);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var run = advertiser.RunAsync(cts.Token);

        await client.SendAsync(Solicitation(hopLimit: 1), cts.Token);
        await client.SendAsync(Solicitation(), cts.Token);
        var buffer = new byte[1600];
        var n = await client.ReceiveAsync(buffer, cts.Token);
        var icmp = ((EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, buffer[..n])).Extract<IcmpV6Packet>();
        Assert.Equal(IcmpV6Type.RouterAdvertisement, icmp.Type);
        // The count follows the send, so it may trail the frame by a moment.
        for (var i = 0; i < 100 && advertiser.Advertisements == 0; i++)
        {
            await Task.Delay(10, cts.Token);
        }

        Assert.Equal((1L, 1L, 1L), (advertiser.Solicitations, advertiser.Advertisements, advertiser.Dropped));

        await advertiser.DisposeAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
        await serverLink.DisposeAsync();
        await client.DisposeAsync();
    }
}
