// Settings of the PXE services on one interface, validated with the offending key named.
using System.Net;
using System.Net.Sockets;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Link;

namespace Kraken.Modules.Pxe;

/// <summary>
/// Everything <see cref="PxeServices"/> needs for one boot segment. Keys in errors are these property names
/// (<c>HttpPort</c>, <c>Boot:KernelArgs</c>); the daemon prefixes them with its section.
/// </summary>
public sealed class PxeOptions
{
    /// <summary>The interface on the boot segment (<c>br0</c>, <c>enp2s0</c>); required.</summary>
    public string Interface { get; set; } = "";

    /// <summary>Our IPv4 address on that segment; required.</summary>
    public IPAddress? ServerAddress { get; set; }

    /// <summary>How the raw link for DHCP (and router advertisements) is opened.</summary>
    public RawLinkKind LinkKind { get; set; } = RawLinkKind.Pcap;

    /// <summary>Where TFTP serves from (plain files such as <c>undionly.kpxe</c>); null: no TFTP server.</summary>
    public string? TftpRoot { get; set; }

    public int TftpPort { get; set; } = 69;

    /// <summary>Where HTTP boot serves from (kernel, initrd); null: no HTTP server, boot files go over TFTP.</summary>
    public string? BootRoot { get; set; }

    public int HttpPort { get; set; } = 8080;

    /// <summary>Answer IPv6 router solicitations so iPXE does not wait for autoconfiguration.</summary>
    public bool RouterAdvertisements { get; set; } = true;

    /// <summary>The DHCP lease time.</summary>
    public TimeSpan LeaseTime { get; set; } = TimeSpan.FromHours(1);

    public List<IPAddress> DnsServers { get; set; } = [];

    public string? DomainName { get; set; }

    public string BiosBootFile { get; set; } = "undionly.kpxe";

    public string UefiBootFile { get; set; } = "ipxe.efi";

    public bool IpxeNoPxeDhcp { get; set; } = true;

    /// <summary>Boot file templates and names; <see cref="BootFilesOptions.ServerAddress"/> and <see cref="BootFilesOptions.HttpBaseUrl"/> are filled in.</summary>
    public BootFilesOptions Boot { get; set; } = new();

    /// <summary>The reconcile module's settings.</summary>
    public PxeModuleOptions Module { get; set; } = new();

    /// <summary>The HTTP base URL the boot files use: <c>http://{server}:{port}</c>, or null without HTTP.</summary>
    public string? HttpBaseUrl => BootRoot is null || ServerAddress is null ? null : $"http://{ServerAddress}:{HttpPort}";

    /// <summary>The URL answered to iPXE: the node's script over HTTP, else its script over TFTP.</summary>
    public string IpxeScriptUrl => HttpBaseUrl is { } http ? http + "/boot/{node}.ipxe" : $"tftp://{ServerAddress}/{Boot.IpxeScriptName}";

    /// <summary>Throws <see cref="PxeConfigException"/> naming the first bad key.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Interface))
        {
            throw new PxeConfigException(nameof(Interface), "is required (the interface on the boot segment)");
        }

        if (ServerAddress is null || ServerAddress.AddressFamily != AddressFamily.InterNetwork || ServerAddress.Equals(IPAddress.Any) || ServerAddress.Equals(IPAddress.Broadcast))
        {
            throw new PxeConfigException(nameof(ServerAddress), $"'{ServerAddress}' is not a unicast IPv4 address");
        }

        if (TftpRoot is null && BootRoot is null)
        {
            throw new PxeConfigException(nameof(TftpRoot), "set TftpRoot, BootRoot or both: there is nothing to boot from");
        }

        CheckDirectory(nameof(TftpRoot), TftpRoot);
        CheckDirectory(nameof(BootRoot), BootRoot);
        CheckPort(nameof(TftpPort), TftpPort);
        CheckPort(nameof(HttpPort), HttpPort);
        if (LeaseTime < TimeSpan.FromSeconds(60) || LeaseTime.TotalSeconds >= uint.MaxValue)
        {
            throw new PxeConfigException(nameof(LeaseTime), $"{LeaseTime} is out of range (at least one minute)");
        }

        if (DnsServers.FirstOrDefault(d => d.AddressFamily != AddressFamily.InterNetwork) is { } dns)
        {
            throw new PxeConfigException(nameof(DnsServers), $"'{dns}' is not an IPv4 address");
        }

        try
        {
            Module.Validate();
        }
        catch (ArgumentException e)
        {
            throw new PxeConfigException($"{nameof(Module)}:{e.ParamName}", e.Message);
        }
    }

    internal DhcpServerOptions ToDhcp() => new()
    {
        ServerAddress = ServerAddress!,
        LeaseTime = LeaseTime,
        DnsServers = DnsServers,
        DomainName = DomainName,
        BiosBootFile = BiosBootFile,
        UefiBootFile = UefiBootFile,
        IpxeScriptUrl = IpxeScriptUrl,
        IpxeNoPxeDhcp = IpxeNoPxeDhcp,
        // A UEFI HTTP boot client loads an EFI program, not a script: iPXE from the boot root, which then asks
        // DHCP again as iPXE and gets its script.
        HttpBootUrl = HttpBaseUrl is { } http ? $"{http}/{UefiBootFile}" : null,
    };

    private static void CheckDirectory(string key, string? path)
    {
        if (path is not null && !Directory.Exists(path))
        {
            throw new PxeConfigException(key, $"directory '{path}' does not exist");
        }
    }

    private static void CheckPort(string key, int port)
    {
        if (port is < 0 or > 65535)
        {
            throw new PxeConfigException(key, $"{port} is not a port number");
        }
    }
}

/// <summary>A bad PXE setting; <see cref="Key"/> names it.</summary>
public sealed class PxeConfigException : Exception
{
    public PxeConfigException(string key, string message)
        : base($"{key}: {message}")
    {
        Key = key;
    }

    public PxeConfigException()
    {
        Key = "";
    }

    public PxeConfigException(string message)
        : base(message)
    {
        Key = "";
    }

    public PxeConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
        Key = "";
    }

    public string Key { get; }
}
