// What boot files need to know about one node, read from its Cfg record.
using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Modules.Pxe;

/// <summary>
/// A node as the boot services see it: its id, hostname and the boot interface (MAC, address, prefix and
/// gateway) from the IPv4 extension of its Cfg.
/// </summary>
public sealed record BootNode(
    NodeId Id,
    string? Hostname,
    PhysicalAddress? Mac,
    IPAddress? Address,
    int PrefixLength,
    IPAddress? Gateway,
    string? Arch,
    string? Platform)
{
    /// <summary>The IPv4 interface the daemon syncs over, by convention (the original's "kraken" interface).</summary>
    public const string DefaultInterface = "kraken";

    /// <summary>
    /// Reads a node from its Cfg. The boot interface is the one named <paramref name="interfaceName"/>; when the
    /// node has none by that name, the first interface (by name) with both a MAC and an address. The hostname is
    /// the IPv4 extension's hostname, else <c>/Nodename</c>.
    /// </summary>
    public static BootNode FromRecord(NodeRecord cfg, string interfaceName = DefaultInterface)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        var ipv4 = cfg.GetExtension<IPv4>(StandardExtensions.IPv4);
        IPv4.Types.Interface? iface = null;
        if (ipv4 is not null && !ipv4.Interfaces.TryGetValue(interfaceName, out iface))
        {
            iface = ipv4.Interfaces
                .Where(kv => kv.Value.HasMac && kv.Value.HasIp)
                .OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => kv.Value)
                .FirstOrDefault();
        }

        var hostname = ipv4 is { HasHostname: true } && ipv4.Hostname.Length > 0 ? ipv4.Hostname : cfg.Nodename;
        return new BootNode(
            cfg.Id,
            hostname,
            iface is { HasMac: true } ? ToMac(iface.Mac) : null,
            iface is { HasIp: true } ? ToAddress(iface.Ip) : null,
            iface is { HasPrefix: true } ? (int)iface.Prefix : 24,
            iface is { HasGateway: true } ? ToAddress(iface.Gateway) : null,
            cfg.Arch,
            cfg.Platform);
    }

    /// <summary>The MAC in the state model's form (low 48 bits, first octet most significant).</summary>
    public static PhysicalAddress ToMac(ulong mac)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, mac);
        return new PhysicalAddress(b[2..].ToArray());
    }

    /// <summary>The MAC as the state model stores it.</summary>
    public static ulong FromMac(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        var bytes = mac.GetAddressBytes();
        ulong v = 0;
        foreach (var b in bytes.AsSpan(0, Math.Min(6, bytes.Length)))
        {
            v = (v << 8) | b;
        }

        return v;
    }

    /// <summary>An IPv4 address from the state model's big-endian integer.</summary>
    public static IPAddress ToAddress(uint address)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, address);
        return new IPAddress(b);
    }

    /// <summary>Lower-case colon form, <c>52:54:00:18:00:01</c>.</summary>
    public static string FormatMac(PhysicalAddress mac, char separator = ':')
    {
        ArgumentNullException.ThrowIfNull(mac);
        return string.Join(separator, mac.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Parses <c>52:54:00:18:00:01</c>, <c>52-54-00-18-00-01</c> or <c>525400180001</c>.</summary>
    public static bool TryParseMac(string text, out PhysicalAddress mac)
    {
        mac = PhysicalAddress.None;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var hex = text.Replace(":", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        if (hex.Length != 12 || !hex.All(Uri.IsHexDigit))
        {
            return false;
        }

        mac = new PhysicalAddress(Convert.FromHexString(hex));
        return true;
    }

    /// <summary>The dotted netmask of <see cref="PrefixLength"/>.</summary>
    public string Netmask
    {
        get
        {
            var bits = PrefixLength <= 0 ? 0u : uint.MaxValue << (32 - Math.Min(32, PrefixLength));
            return ToAddress(bits).ToString();
        }
    }
}
