// Interface facts from the kernel (ioctl on a socket), so they come from the namespace of the calling thread:
// /sys/class/net and NetworkInformation describe the namespace sysfs was mounted in instead.
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Kraken.Net.Link.Internal;

internal static unsafe partial class LinuxInterface
{
    private const ulong SIOCGIFMTU = 0x8921;
    private const ulong SIOCGIFHWADDR = 0x8927;
    private const ulong SIOCGIFINDEX = 0x8933;
    private const int IfNameSize = 16;
    private const int IfReqSize = 40;

    public static (int Index, PhysicalAddress Mac, int Mtu) Describe(string name)
    {
        if (name.Length >= IfNameSize || name.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{name}' is not an interface name", nameof(name));
        }

        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var fd = (int)probe.Handle;
        Span<byte> request = stackalloc byte[IfReqSize];

        Query(fd, name, SIOCGIFINDEX, request);
        var index = MemoryMarshal.Read<int>(request[16..]);
        Query(fd, name, SIOCGIFHWADDR, request);
        var mac = new PhysicalAddress(request.Slice(18, 6).ToArray());
        Query(fd, name, SIOCGIFMTU, request);
        var mtu = MemoryMarshal.Read<int>(request[16..]);
        return (index, mac, mtu);
    }

    private static void Query(int fd, string name, ulong request, Span<byte> ifreq)
    {
        ifreq.Clear();
        for (var i = 0; i < name.Length; i++)
        {
            ifreq[i] = (byte)name[i];
        }

        fixed (byte* p = ifreq)
        {
            if (Ioctl(fd, request, p) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"interface {name}: ioctl 0x{request:x} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, ulong request, byte* argument);
}
