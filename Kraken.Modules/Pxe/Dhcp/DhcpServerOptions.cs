// Settings of one DHCP server on one segment.
using System.Net;
using System.Net.Sockets;

namespace Kraken.Modules.Pxe.Dhcp;

public sealed class DhcpServerOptions
{
    /// <summary>Our address on the segment: the server identifier (54), next-server (siaddr) and reply source.</summary>
    public required IPAddress ServerAddress { get; set; }

    /// <summary>Lease time (51); T1 (58) is half of it, T2 (59) seven eighths. Default one hour.</summary>
    public TimeSpan LeaseTime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>DNS servers (6).</summary>
    public List<IPAddress> DnsServers { get; set; } = [];

    /// <summary>Domain name (15).</summary>
    public string? DomainName { get; set; }

    /// <summary>Boot file for x86 BIOS PXE ROMs (option 93 type 0 or absent).</summary>
    public string BiosBootFile { get; set; } = "undionly.kpxe";

    /// <summary>Boot file for x64 UEFI PXE (93 types 7 and 9).</summary>
    public string UefiBootFile { get; set; } = "ipxe.efi";

    /// <summary>URL for UEFI HTTP boot (93 type 16, vendor class "HTTPClient"); "{node}" and "{mac}" are replaced.</summary>
    public string? HttpBootUrl { get; set; }

    /// <summary>Answered to iPXE (option 175 or user class "iPXE"), e.g. "http://198.18.0.1:8080/boot/{node}.ipxe".</summary>
    public string? IpxeScriptUrl { get; set; }

    /// <summary>Send iPXE's "no-pxedhcp" setting (175.176 = 1) so it does not wait for ProxyDHCP offers.</summary>
    public bool IpxeNoPxeDhcp { get; set; } = true;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (ServerAddress is null || ServerAddress.AddressFamily != AddressFamily.InterNetwork
            || ServerAddress.Equals(IPAddress.Any) || ServerAddress.Equals(IPAddress.Broadcast))
        {
            throw new ArgumentException($"{nameof(ServerAddress)} must be a unicast IPv4 address, not '{ServerAddress}'", nameof(ServerAddress));
        }

        if (LeaseTime < TimeSpan.FromSeconds(60) || LeaseTime.TotalSeconds >= uint.MaxValue)
        {
            throw new ArgumentException($"{nameof(LeaseTime)} must be at least 60 s and below 2^32 s, not {LeaseTime}", nameof(LeaseTime));
        }

        ArgumentNullException.ThrowIfNull(DnsServers, nameof(DnsServers));
        if (DnsServers.Count > 63 || DnsServers.Exists(a => a is null || a.AddressFamily != AddressFamily.InterNetwork))
        {
            throw new ArgumentException($"{nameof(DnsServers)} must hold at most 63 IPv4 addresses", nameof(DnsServers));
        }

        CheckText(DomainName, nameof(DomainName), 255);
        CheckText(BiosBootFile, nameof(BiosBootFile), 127);
        CheckText(UefiBootFile, nameof(UefiBootFile), 127);
        CheckText(HttpBootUrl, nameof(HttpBootUrl), 127);
        CheckText(IpxeScriptUrl, nameof(IpxeScriptUrl), 127);
    }

    // A boot file goes into the 128-byte file field, NUL-terminated, so at most 127 bytes after substitution.
    private static void CheckText(string? value, string name, int max)
    {
        if (value is not null && (value.Length > max || value.Any(c => c is < ' ' or > '~')))
        {
            throw new ArgumentException($"{name} must be printable ASCII of at most {max} characters", name);
        }
    }
}
