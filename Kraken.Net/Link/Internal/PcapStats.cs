// pcap_stats called directly: SharpPcap 6.3.1 reads struct pcap_stat with pointer-sized fields where libpcap has
// three u_ints on Linux, so its DroppedPackets is really ps_ifdrop (always 0 here) and the kernel's drops are lost.
using System.Runtime.InteropServices;

namespace Kraken.Net.Link.Internal;

internal static unsafe class PcapStats
{
    private static readonly delegate* unmanaged<IntPtr, uint*, int> s_stats = Resolve();

    /// <summary>
    /// ps_drop of <c>struct pcap_stat { u_int ps_recv, ps_drop, ps_ifdrop; }</c>: on Linux the kernel's
    /// PACKET_STATISTICS drops (capture ring full), summed by libpcap since the handle opened.
    /// </summary>
    public static bool TryRead(SafeHandle handle, out long dropped)
    {
        dropped = 0;
        if (s_stats is null || handle.IsInvalid || handle.IsClosed)
        {
            return false;
        }

        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var stat = stackalloc uint[4];
            if (s_stats(handle.DangerousGetHandle(), stat) != 0)
            {
                return false;
            }

            dropped = stat[1];
            return true;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static delegate* unmanaged<IntPtr, uint*, int> Resolve()
    {
        foreach (var name in (string[])["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"])
        {
            if (NativeLibrary.TryLoad(name, out var library) && NativeLibrary.TryGetExport(library, "pcap_stats", out var export))
            {
                return (delegate* unmanaged<IntPtr, uint*, int>)export;
            }
        }

        return null;
    }
}
