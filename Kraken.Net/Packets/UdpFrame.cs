// Ethernet II / IPv4 / UDP frames: parse and write on spans, with the IPv4 header and UDP checksums.
using System.Buffers.Binary;

namespace Kraken.Net.Packets;

/// <summary>Why a frame is not an IPv4 UDP datagram we accept.</summary>
public enum UdpParseStatus
{
    Ok,
    /// <summary>Shorter than its headers or than the lengths they state.</summary>
    Truncated,
    /// <summary>Not EtherType 0x0800 (VLAN-tagged frames included).</summary>
    NotIpv4,
    /// <summary>Version not 4, header length under 20 bytes, or total length smaller than the header.</summary>
    BadIpHeader,
    BadIpChecksum,
    /// <summary>A fragment: not reassembled here.</summary>
    Fragment,
    NotUdp,
    /// <summary>UDP length under 8 or beyond the IP payload.</summary>
    BadUdpLength,
    BadUdpChecksum,
}

/// <summary>Where things are in a parsed frame; offsets index the frame given to <see cref="UdpFrame.TryParse(ReadOnlySpan{byte}, out UdpFrameInfo)"/>.</summary>
public readonly record struct UdpFrameInfo(
    MacAddress SourceMac,
    MacAddress DestinationMac,
    uint SourceIp,
    uint DestinationIp,
    ushort SourcePort,
    ushort DestinationPort,
    byte Ttl,
    int PayloadOffset,
    int PayloadLength)
{
    public ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> frame) => frame.Slice(PayloadOffset, PayloadLength);
}

public static class UdpFrame
{
    public const int EthernetHeaderLength = 14;
    public const int Ipv4HeaderLength = 20;
    public const int UdpHeaderLength = 8;

    /// <summary>Ethernet + IPv4 (no options) + UDP: where <see cref="WriteHeaders"/> expects the payload.</summary>
    public const int HeaderLength = EthernetHeaderLength + Ipv4HeaderLength + UdpHeaderLength;

    public const ushort EtherTypeIpv4 = 0x0800;
    public const byte ProtocolUdp = 17;

    public static bool TryParse(ReadOnlySpan<byte> frame, out UdpFrameInfo info) => Parse(frame, out info) == UdpParseStatus.Ok;

    /// <summary>
    /// Parses an Ethernet II frame carrying an unfragmented IPv4 UDP datagram, verifying both checksums (a UDP
    /// checksum of zero means "none"). Trailing Ethernet padding beyond the IP total length is ignored.
    /// </summary>
    /// <param name="frame">The whole frame, without FCS.</param>
    /// <param name="info">Where the fields and the payload are.</param>
    /// <param name="acceptPartialChecksum">
    /// Also accept a UDP checksum field that holds only the pseudo-header sum: what a sender on the same host
    /// leaves for checksum offload (veth, tap, virtio) when a raw socket sees the frame before any hardware could
    /// finish it. The kernel flags such frames (TP_STATUS_CSUMNOTREADY), but libpcap does not pass that on, so
    /// this recognises the value itself; a corrupted frame matches it with odds of 1 in 65,536.
    /// </param>
    public static UdpParseStatus Parse(ReadOnlySpan<byte> frame, out UdpFrameInfo info, bool acceptPartialChecksum = false)
    {
        info = default;
        if (frame.Length < EthernetHeaderLength)
        {
            return UdpParseStatus.Truncated;
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherTypeIpv4)
        {
            return UdpParseStatus.NotIpv4;
        }

        var ip = frame[EthernetHeaderLength..];
        if (ip.Length < Ipv4HeaderLength)
        {
            return UdpParseStatus.Truncated;
        }

        var ihl = (ip[0] & 0x0f) * 4;
        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ip[0] >> 4 != 4 || ihl < Ipv4HeaderLength || totalLength < ihl)
        {
            return UdpParseStatus.BadIpHeader;
        }

        if (ip.Length < ihl || ip.Length < totalLength)
        {
            return UdpParseStatus.Truncated;
        }

        ip = ip[..totalLength];
        if (InternetChecksum.Compute(ip[..ihl]) != 0)
        {
            return UdpParseStatus.BadIpChecksum;
        }

        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3fff) != 0)
        {
            return UdpParseStatus.Fragment;    // more-fragments set or a non-zero offset
        }

        if (ip[9] != ProtocolUdp)
        {
            return UdpParseStatus.NotUdp;
        }

        var udp = ip[ihl..];
        if (udp.Length < UdpHeaderLength)
        {
            return UdpParseStatus.Truncated;
        }

        var udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < UdpHeaderLength || udpLength > udp.Length)
        {
            return UdpParseStatus.BadUdpLength;
        }

        udp = udp[..udpLength];
        var sourceIp = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        var destinationIp = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        var checksum = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);
        var pseudo = PseudoHeaderSum(sourceIp, destinationIp, udpLength);
        if (checksum != 0 && InternetChecksum.Finish(InternetChecksum.Add(pseudo, udp)) != 0
            && !(acceptPartialChecksum && checksum == (ushort)~InternetChecksum.Finish(pseudo)))
        {
            return UdpParseStatus.BadUdpChecksum;
        }

        info = new UdpFrameInfo(
            MacAddress.Read(frame[6..]),
            MacAddress.Read(frame),
            sourceIp,
            destinationIp,
            BinaryPrimitives.ReadUInt16BigEndian(udp),
            BinaryPrimitives.ReadUInt16BigEndian(udp[2..]),
            ip[8],
            EthernetHeaderLength + ihl + UdpHeaderLength,
            udpLength - UdpHeaderLength);
        return UdpParseStatus.Ok;
    }

    /// <summary>Writes a whole frame with <paramref name="payload"/> copied in; returns the frame length.</summary>
    public static int Write(Span<byte> destination, MacAddress sourceMac, MacAddress destinationMac, uint sourceIp,
        uint destinationIp, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload, byte ttl = 64)
    {
        if (destination.Length < HeaderLength + payload.Length)
        {
            throw new ArgumentException($"a {payload.Length}-byte payload needs {HeaderLength + payload.Length} bytes", nameof(destination));
        }

        payload.CopyTo(destination[HeaderLength..]);
        return WriteHeaders(destination, sourceMac, destinationMac, sourceIp, destinationIp, sourcePort, destinationPort, payload.Length, ttl);
    }

    /// <summary>
    /// Writes the headers in front of a payload already at <c>destination[HeaderLength..]</c> (so a message can be
    /// encoded in place) and returns the frame length.
    /// </summary>
    public static int WriteHeaders(Span<byte> destination, MacAddress sourceMac, MacAddress destinationMac, uint sourceIp,
        uint destinationIp, ushort sourcePort, ushort destinationPort, int payloadLength, byte ttl = 64, ushort identification = 0)
    {
        var udpLength = UdpHeaderLength + payloadLength;
        if (payloadLength < 0 || Ipv4HeaderLength + udpLength > ushort.MaxValue || destination.Length < HeaderLength + payloadLength)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, "payload does not fit");
        }

        destinationMac.Write(destination);
        sourceMac.Write(destination[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[12..], EtherTypeIpv4);

        var ip = destination.Slice(EthernetHeaderLength, Ipv4HeaderLength);
        ip[0] = 0x45;                                      // version 4, 5 words
        ip[1] = 0;                                         // DSCP/ECN
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4HeaderLength + udpLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], identification);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // don't fragment
        ip[8] = ttl;
        ip[9] = ProtocolUdp;
        ip[10] = 0;
        ip[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], sourceIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destinationIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));

        var udp = destination.Slice(EthernetHeaderLength + Ipv4HeaderLength, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        udp[6] = 0;
        udp[7] = 0;
        var checksum = InternetChecksum.Finish(InternetChecksum.Add(PseudoHeaderSum(sourceIp, destinationIp, (ushort)udpLength), udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xffff : checksum);
        return HeaderLength + payloadLength;
    }

    private static ulong PseudoHeaderSum(uint sourceIp, uint destinationIp, ushort udpLength) =>
        (ulong)(sourceIp >> 16) + (sourceIp & 0xffff) + (destinationIp >> 16) + (destinationIp & 0xffff) + ProtocolUdp + udpLength;
}
