// The Ethernet/IPv4/UDP codec against PacketDotNet as an independent implementation, in both directions,
// and against broken input.
using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Net.Packets;
using PacketDotNet;

namespace Kraken.Net.Tests.Packets;

public class UdpFrameTests
{
    private static readonly MacAddress SourceMac = new(0x5254_0018_0001);
    private static readonly MacAddress DestinationMac = new(0x5254_0018_00fe);
    private const uint SourceIp = 0xC612_0001;        // 198.18.0.1
    private const uint DestinationIp = 0xC612_000A;   // 198.18.0.10

    public static TheoryData<int> PayloadSizes => [0, 1, 2, 3, 300, 547, 1472];

    private static byte[] Payload(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed + size).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Ours(byte[] payload, ushort sourcePort = 67, ushort destinationPort = 68)
    {
        var frame = new byte[UdpFrame.HeaderLength + payload.Length];
        var length = UdpFrame.Write(frame, SourceMac, DestinationMac, SourceIp, DestinationIp, sourcePort, destinationPort, payload, ttl: 17);
        Assert.Equal(frame.Length, length);
        return frame;
    }

    private static byte[] Theirs(byte[] payload, ushort sourcePort = 67, ushort destinationPort = 68, bool udpChecksum = true)
    {
        var udp = new UdpPacket(sourcePort, destinationPort) { PayloadData = payload };
        var ip = new IPv4Packet(IPAddress.Parse("198.18.0.1"), IPAddress.Parse("198.18.0.10")) { PayloadPacket = udp, TimeToLive = 33 };
        var ethernet = new EthernetPacket(SourceMac.ToPhysicalAddress(), DestinationMac.ToPhysicalAddress(), EthernetType.IPv4) { PayloadPacket = ip };
        ethernet.UpdateCalculatedValues();
        if (udpChecksum)
        {
            udp.UpdateUdpChecksum();
        }
        else
        {
            udp.Checksum = 0;
        }

        ip.UpdateIPChecksum();
        return ethernet.Bytes;
    }

    [Theory]
    [MemberData(nameof(PayloadSizes))]
    public void Written_frames_are_read_by_PacketDotNet_with_valid_checksums(int size)
    {
        var payload = Payload(size);
        var packet = Packet.ParsePacket(LinkLayers.Ethernet, Ours(payload, 67, 68));

        var ethernet = Assert.IsType<EthernetPacket>(packet);
        Assert.Equal(SourceMac.ToPhysicalAddress(), ethernet.SourceHardwareAddress);
        Assert.Equal(DestinationMac.ToPhysicalAddress(), ethernet.DestinationHardwareAddress);
        var ip = packet.Extract<IPv4Packet>();
        Assert.NotNull(ip);
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), ip.SourceAddress);
        Assert.Equal(IPAddress.Parse("198.18.0.10"), ip.DestinationAddress);
        Assert.Equal(17, ip.TimeToLive);
        Assert.Equal(20 + 8 + size, ip.TotalLength);
        var udp = packet.Extract<UdpPacket>();
        Assert.NotNull(udp);
        Assert.True(udp.ValidUdpChecksum);
        Assert.Equal(67, udp.SourcePort);
        Assert.Equal(68, udp.DestinationPort);
        Assert.Equal(payload, udp.PayloadData ?? []);
    }

    [Theory]
    [MemberData(nameof(PayloadSizes))]
    public void Frames_built_by_PacketDotNet_parse_to_the_same_fields(int size)
    {
        var payload = Payload(size, 7);
        var frame = Theirs(payload, 68, 67);

        Assert.Equal(UdpParseStatus.Ok, UdpFrame.Parse(frame, out var info));
        Assert.Equal(SourceMac, info.SourceMac);
        Assert.Equal(DestinationMac, info.DestinationMac);
        Assert.Equal(SourceIp, info.SourceIp);
        Assert.Equal(DestinationIp, info.DestinationIp);
        Assert.Equal(68, info.SourcePort);
        Assert.Equal(67, info.DestinationPort);
        Assert.Equal(33, info.Ttl);
        Assert.Equal(payload, info.Payload(frame).ToArray());
    }

    [Fact]
    public void Our_frames_equal_PacketDotNets_byte_for_byte_apart_from_id_flags_and_ttl()
    {
        var payload = Payload(301);
        var ours = Ours(payload, 67, 68);
        var theirs = Theirs(payload, 67, 68);
        Assert.Equal(theirs.Length, ours.Length);

        // Identification, flags/fragment and TTL differ by choice; the checksums follow from them.
        foreach (var i in new[] { 18, 19, 20, 21, 22, 24, 25 })
        {
            ours[i] = theirs[i] = 0;
        }

        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void A_zero_udp_checksum_means_none_and_is_accepted()
    {
        var frame = Theirs(Payload(40), udpChecksum: false);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(40)));
        Assert.Equal(UdpParseStatus.Ok, UdpFrame.Parse(frame, out var info));
        Assert.Equal(40, info.PayloadLength);
    }

    [Fact]
    public void A_partial_offload_checksum_is_accepted_only_when_asked()
    {
        var frame = Ours(Payload(40));
        var udpLength = (ushort)(8 + 40);
        ulong pseudo = (SourceIp >> 16) + (SourceIp & 0xffff) + (DestinationIp >> 16) + (DestinationIp & 0xffff) + 17u + udpLength;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(40), (ushort)~InternetChecksum.Finish(pseudo));

        Assert.Equal(UdpParseStatus.BadUdpChecksum, UdpFrame.Parse(frame, out _));
        Assert.Equal(UdpParseStatus.Ok, UdpFrame.Parse(frame, out var info, acceptPartialChecksum: true));
        Assert.Equal(40, info.PayloadLength);

        frame[^1] ^= 1;     // a full but wrong checksum is still wrong
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(40), 0x1234);
        Assert.Equal(UdpParseStatus.BadUdpChecksum, UdpFrame.Parse(frame, out _, acceptPartialChecksum: true));
    }

    [Fact]
    public void Ethernet_padding_after_the_datagram_is_ignored()
    {
        var frame = Ours(Payload(4));
        var padded = frame.Concat(new byte[60 - frame.Length + 4]).ToArray();
        Assert.Equal(UdpParseStatus.Ok, UdpFrame.Parse(padded, out var info));
        Assert.Equal(4, info.PayloadLength);
    }

    [Fact]
    public void Every_truncation_is_rejected_without_throwing()
    {
        var frame = Ours(Payload(300));
        for (var length = 0; length < frame.Length; length++)
        {
            var status = UdpFrame.Parse(frame.AsSpan(0, length), out _);
            Assert.True(status is UdpParseStatus.Truncated, $"length {length}: {status}");
        }
    }

    [Fact]
    public void Any_flipped_bit_in_the_ip_header_or_udp_datagram_is_caught()
    {
        var frame = Ours(Payload(64));
        for (var i = 14; i < frame.Length; i++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var copy = (byte[])frame.Clone();
                copy[i] ^= (byte)(1 << bit);
                var status = UdpFrame.Parse(copy, out _);
                Assert.True(status != UdpParseStatus.Ok, $"byte {i} bit {bit} went unnoticed");
            }
        }
    }

    [Fact]
    public void Bad_checksums_are_named()
    {
        var frame = Ours(Payload(64));
        var badIp = (byte[])frame.Clone();
        badIp[24] ^= 0xff;
        Assert.Equal(UdpParseStatus.BadIpChecksum, UdpFrame.Parse(badIp, out _));
        var badUdp = (byte[])frame.Clone();
        badUdp[^1] ^= 0x01;
        Assert.Equal(UdpParseStatus.BadUdpChecksum, UdpFrame.Parse(badUdp, out _));
    }

    [Fact]
    public void Bad_lengths_fragments_and_other_protocols_are_rejected()
    {
        var frame = Ours(Payload(64));

        var udpTooLong = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(udpTooLong.AsSpan(38), 200);
        Assert.Equal(UdpParseStatus.BadUdpLength, UdpFrame.Parse(udpTooLong, out _));

        var udpTooShort = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(udpTooShort.AsSpan(38), 7);
        Assert.Equal(UdpParseStatus.BadUdpLength, UdpFrame.Parse(udpTooShort, out _));

        var ipTooLong = Rechecksum(frame, f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 2000));
        Assert.Equal(UdpParseStatus.Truncated, UdpFrame.Parse(ipTooLong, out _));

        var ipShorterThanHeader = Rechecksum(frame, f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 19));
        Assert.Equal(UdpParseStatus.BadIpHeader, UdpFrame.Parse(ipShorterThanHeader, out _));

        var tinyIhl = Rechecksum(frame, f => f[14] = 0x44);
        Assert.Equal(UdpParseStatus.BadIpHeader, UdpFrame.Parse(tinyIhl, out _));

        var fragment = Rechecksum(frame, f => f[20] = 0x20);    // more fragments
        Assert.Equal(UdpParseStatus.Fragment, UdpFrame.Parse(fragment, out _));

        var tcp = Rechecksum(frame, f => f[23] = 6);
        Assert.Equal(UdpParseStatus.NotUdp, UdpFrame.Parse(tcp, out _));

        var vlan = (byte[])frame.Clone();
        vlan[12] = 0x81;
        vlan[13] = 0x00;
        Assert.Equal(UdpParseStatus.NotIpv4, UdpFrame.Parse(vlan, out _));
    }

    [Fact]
    public void Ip_options_are_skipped()
    {
        // PacketDotNet would not add options; a 24-byte header (one NOP word) built by hand.
        var frame = Ours(Payload(10));
        var withOptions = new byte[frame.Length + 4];
        frame.AsSpan(0, 34).CopyTo(withOptions);
        withOptions[34] = withOptions[35] = withOptions[36] = withOptions[37] = 1;
        frame.AsSpan(34).CopyTo(withOptions.AsSpan(38));
        withOptions[14] = 0x46;
        BinaryPrimitives.WriteUInt16BigEndian(withOptions.AsSpan(16), (ushort)(frame.Length - 14 + 4));
        withOptions = Rechecksum(withOptions, _ => { }, 24);

        Assert.Equal(UdpParseStatus.Ok, UdpFrame.Parse(withOptions, out var info));
        Assert.Equal(14 + 24 + 8, info.PayloadOffset);
        var parsed = Packet.ParsePacket(LinkLayers.Ethernet, withOptions).Extract<UdpPacket>();
        Assert.Equal(parsed.PayloadData, info.Payload(withOptions).ToArray());
    }

    [Fact]
    public void Checksum_matches_rfc1071_example()
    {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2, so the checksum is 220d.
        Assert.Equal(0x220d, InternetChecksum.Compute([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]));
    }

    [Fact]
    public void Mac_addresses_round_trip_and_format()
    {
        var mac = MacAddress.From(PhysicalAddress.Parse("52-54-00-18-00-01"));
        Assert.Equal(0x5254_0018_0001UL, mac.Value);
        Assert.Equal("52:54:00:18:00:01", mac.ToString());
        Assert.Equal(PhysicalAddress.Parse("52-54-00-18-00-01"), mac.ToPhysicalAddress());
        Assert.True(MacAddress.Broadcast.IsGroup);
        Assert.False(mac.IsGroup);
    }

    private static byte[] Rechecksum(byte[] frame, Action<byte[]> change, int headerLength = 20)
    {
        var copy = (byte[])frame.Clone();
        change(copy);
        copy[24] = copy[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(24), InternetChecksum.Compute(copy.AsSpan(14, headerLength)));
        return copy;
    }
}
