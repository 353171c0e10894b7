// The kernel's IPv4 neighbour table, read from /proc/net/arp: which MAC an address on a local segment has.
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Looks an address up in <c>/proc/net/arp</c> (<c>IP address, HW type, Flags, HW address, Mask, Device</c>). Only
/// complete entries (flag ATF_COM, 0x2) count: an incomplete one says nothing about who holds the address.
/// </summary>
public static class NeighbourTable
{
    public const string DefaultPath = "/proc/net/arp";

    /// <summary>The MAC of <paramref name="address"/>, or null when the table does not hold it (or cannot be read).</summary>
    public static PhysicalAddress? Lookup(IPAddress address) => Lookup(address, DefaultPath);

    public static PhysicalAddress? Lookup(IPAddress address, string path)
    {
        ArgumentNullException.ThrowIfNull(address);
        try
        {
            return Find(File.ReadLines(path), address);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Parses table lines (the first, a header, is skipped).</summary>
    public static PhysicalAddress? Find(IEnumerable<string> lines, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(address);
        var wanted = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 4 || !IPAddress.TryParse(f[0], out var ip) || !ip.Equals(wanted))
            {
                continue;
            }

            var flags = f[2].StartsWith("0x", StringComparison.Ordinal) && int.TryParse(f[2].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v) ? v : 0;
            if ((flags & 0x2) == 0 || !Kraken.Modules.Pxe.BootNode.TryParseMac(f[3], out var mac))
            {
                return null;
            }

            return mac;
        }

        return null;
    }
}
