// Small reads of the kernel's network state: is a socket bound in a process's namespace, which host addresses
// overlap a network.
using System.Globalization;
using System.Net;
using System.Runtime.Versioning;

namespace Kraken.Daemon.Lab;

internal static class LabNet
{
    /// <summary>
    /// True when a UDP socket is bound to <paramref name="address"/>:<paramref name="port"/> in the network namespace
    /// of process <paramref name="pid"/> (read from /proc/PID/net/udp, which shows that process's namespace).
    /// </summary>
    [SupportedOSPlatform("linux")]
    public static bool IsUdpBound(int pid, string address, int port)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/net/udp");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        // local_address is the address as the kernel stores it (network order) printed as a host-order hex word.
        var bytes = IPAddress.Parse(address).GetAddressBytes();
        var local = string.Create(CultureInfo.InvariantCulture, $"{bytes[3]:X2}{bytes[2]:X2}{bytes[1]:X2}{bytes[0]:X2}:{port:X4}");
        return text.Split('\n').Skip(1).Any(line =>
            line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: > 1 } f && f[1] == local);
    }

    /// <summary>
    /// Host interfaces (with their address) whose IPv4 network overlaps <paramref name="address"/>/<paramref name="prefix"/>,
    /// from <c>ip -4 -o addr show</c> in the host's namespace.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public static IReadOnlyList<string> HostAddressesIn(string address, int prefix)
    {
        var output = LabSystem.Check("ip", "-4", "-o", "addr", "show");
        var taken = new List<string>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "7: eth0    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0\ ..."
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var inet = Array.IndexOf(f, "inet");
            if (inet < 0 || inet + 1 >= f.Length || f[inet + 1].Split('/') is not [var a, var p]
                || !IPAddress.TryParse(a, out var other) || !int.TryParse(p, CultureInfo.InvariantCulture, out var otherPrefix))
            {
                continue;
            }

            if (Overlaps(IPAddress.Parse(address), prefix, other, otherPrefix))
            {
                taken.Add($"{f[1].TrimEnd(':')} {a}/{p}");
            }
        }

        return taken;
    }

    /// <summary>Two IPv4 networks overlap when they agree on the shorter of the two prefixes.</summary>
    public static bool Overlaps(IPAddress a, int aPrefix, IPAddress b, int bPrefix)
    {
        var shorter = Math.Min(aPrefix, bPrefix);
        var mask = shorter == 0 ? 0u : uint.MaxValue << (32 - shorter);
        return (ToUInt32(a) & mask) == (ToUInt32(b) & mask);
    }

    private static uint ToUInt32(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }
}
