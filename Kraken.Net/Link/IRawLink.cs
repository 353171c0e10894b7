// The raw Ethernet link the PXE services speak through: a real interface (libpcap or AF_PACKET) or an
// in-memory broadcast segment for tests and the simulator.
using System.Net.NetworkInformation;

using Kraken.Net.Packets;

namespace Kraken.Net.Link;

/// <summary>How a real interface is opened.</summary>
public enum RawLinkKind
{
    /// <summary>libpcap through SharpPcap, with the filter compiled by libpcap into a kernel BPF program. The default.</summary>
    Pcap,

    /// <summary>A plain AF_PACKET socket with a classic BPF program attached (SO_ATTACH_FILTER); no libpcap needed.</summary>
    AfPacket,
}

/// <summary>A link that sends and receives whole Ethernet II frames.</summary>
public interface IRawLink : IAsyncDisposable
{
    /// <summary>The interface name.</summary>
    string Name { get; }

    PhysicalAddress HardwareAddress { get; }

    int Mtu { get; }

    /// <summary>Sends one complete Ethernet frame (no FCS).</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken = default);

    /// <summary>
    /// Receives the next frame that passed the link's filter into <paramref name="buffer"/> and returns its
    /// length; a frame longer than the buffer is truncated to it. Frames this link sent itself are not returned.
    /// </summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);
}

/// <summary>
/// What a link lets through; the set criteria are alternatives (a frame passes if it matches any of them),
/// and no criterion at all lets everything through. Real links compile this into a kernel BPF program.
/// </summary>
/// <param name="UdpPort">IPv4 UDP datagrams to this destination port (first fragments and unfragmented only).</param>
/// <param name="EtherType">Frames of this EtherType.</param>
/// <param name="Icmpv6">IPv6 frames whose next header is ICMPv6.</param>
/// <param name="Multicast">
/// A link-layer multicast group (a 48-bit MAC such as 33:33:00:00:00:02, IPv6 all-routers) the link joins while it is
/// open, so that the NIC's receive filter passes frames sent to it even when no protocol of the host has joined it (a
/// virtio or real NIC drops multicast nobody asked for). Not a filter criterion: the filter still decides.
/// </param>
public sealed record RawLinkFilter(ushort? UdpPort = null, ushort? EtherType = null, bool Icmpv6 = false, MacAddress? Multicast = null)
{
    /// <summary>Lets every frame through.</summary>
    public static RawLinkFilter All { get; } = new();

    public bool IsEmpty => UdpPort is null && EtherType is null && !Icmpv6;

    /// <summary>The same test as the kernel program, in software (the in-memory segment uses it).</summary>
    public bool Matches(ReadOnlySpan<byte> frame)
    {
        if (IsEmpty)
        {
            return true;
        }

        if (frame.Length < 14)
        {
            return false;
        }

        var etherType = (ushort)((frame[12] << 8) | frame[13]);
        if (EtherType is { } wanted && etherType == wanted)
        {
            return true;
        }

        if (UdpPort is { } port && etherType == 0x0800 && frame.Length >= 34 && frame[23] == 17
            && ((frame[20] << 8 | frame[21]) & 0x1fff) == 0)
        {
            var ihl = (frame[14] & 0x0f) * 4;
            if (frame.Length >= 14 + ihl + 4 && ((frame[14 + ihl + 2] << 8) | frame[14 + ihl + 3]) == port)
            {
                return true;
            }
        }

        return Icmpv6 && etherType == 0x86dd && frame.Length >= 54 && frame[20] == 58;
    }

    /// <summary>The libpcap filter expression with the same meaning.</summary>
    public string ToPcapExpression()
    {
        var parts = new List<string>(3);
        if (UdpPort is { } port)
        {
            parts.Add($"(ip and udp dst port {port})");
        }

        if (EtherType is { } type)
        {
            parts.Add($"(ether proto 0x{type:x4})");
        }

        if (Icmpv6)
        {
            parts.Add("(ip6 and ip6 proto 58)");
        }

        return string.Join(" or ", parts);
    }
}
