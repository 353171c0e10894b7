// Opens a real interface as an IRawLink.
using Kraken.Net.Link.Internal;

namespace Kraken.Net.Link;

public static class RawLink
{
    /// <summary>
    /// Opens <paramref name="interfaceName"/> in the network namespace of the calling thread (a thread that
    /// entered a namespace with setns opens that namespace's interface; the link keeps working from any thread).
    /// Needs CAP_NET_RAW.
    /// </summary>
    public static IRawLink Open(string interfaceName, RawLinkKind kind, RawLinkFilter filter)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        ArgumentNullException.ThrowIfNull(filter);
        return kind switch
        {
            RawLinkKind.Pcap => PcapRawLink.Open(interfaceName, filter),
            RawLinkKind.AfPacket => AfPacketRawLink.Open(interfaceName, filter),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown raw link kind"),
        };
    }
}
