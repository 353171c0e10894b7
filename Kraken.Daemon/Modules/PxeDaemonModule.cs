// Section Modules:Pxe: the PXE services (DHCP, TFTP, HTTP boot, router advertisements) and the PXE reconcile module.
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Kraken.Daemon.Hosting;
using Kraken.Modules.Pxe;
using Kraken.Net.Link;
using Kraken.Tree.Reconcile;
using Microsoft.Extensions.Configuration;

namespace Kraken.Daemon.Modules;

/// <summary>
/// Boots this daemon's children from one interface. Skipped when the section is absent or has
/// <c>Enabled: false</c>. Every key is checked at start, and an unknown key is an error (a typo would otherwise
/// silently fall back to a default). The keys are listed in docs/pxe.md.
/// </summary>
public sealed class PxeDaemonModule : IDaemonModule, IAsyncDisposable
{
    public const string Section = "Modules:Pxe";

    private static readonly string[] s_keys =
    [
        "Enabled", "Interface", "ServerAddress", "LinkKind", "TftpRoot", "TftpPort", "BootRoot", "HttpPort",
        "RouterAdvertisements", "LeaseTime", "DnsServers", "DomainName", "BiosBootFile", "UefiBootFile", "IpxeNoPxeDhcp",
        "Kernel", "Initrd", "KernelArgs", "IpxeTemplate", "IpxeTemplateFile", "PxelinuxTemplate", "PxelinuxTemplateFile",
        "BootInterface", "IpxeScriptName", "RegisteredOnly", "RequirePowerOn", "RegisterTimeout", "DhcpTimeout",
        "FetchTimeout", "BootFiles",
    ];

    private PxeServices? _services;

    public string Name => "Pxe";

    /// <summary>The running services (null before start or when the section is absent).</summary>
    public PxeServices? Services => _services;

    public IEnumerable<IReconcileModule> Create(DaemonModuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Configuration.Exists())
        {
            return [];
        }

        var options = ReadOptions(context.Configuration);
        options.Boot.SyncPort = context.SyncPort;
        PxeServices services;
        try
        {
            services = new PxeServices(
                options,
                context.Store,
                BootNodeDirectory.ChildrenOf(context.Store, context.Self),
                context.Time,
                context.LoggerFactory,
                bootstrap: context.Bootstrap);
        }
        catch (PxeConfigException e)
        {
            throw new DaemonConfigException($"{Section}:{ConfigKey(e.Key)}", e.Message[(e.Key.Length + 2)..]);
        }

        try
        {
            services.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (PxeConfigException e)
        {
            // ServerAddress not on this host, a TFTP or HTTP port taken on it.
            throw new DaemonConfigException($"{Section}:{ConfigKey(e.Key)}", e.Message[(e.Key.Length + 2)..]);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A missing interface, no permission to capture, a port in use, no libpcap: all stop start-up with the
            // reason, and StartAsync has already closed whatever it had opened.
            throw new DaemonConfigException($"{Section}:Interface", $"cannot start the PXE services on '{options.Interface}': {e.Message}");
        }

        _services = services;
        return [services.Module];
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is { } services)
        {
            _services = null;
            await services.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads the section into options; throws <see cref="DaemonConfigException"/> naming the bad key.</summary>
    public static PxeOptions ReadOptions(IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        foreach (var child in section.GetChildren())
        {
            if (!s_keys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new DaemonConfigException($"{Section}:{child.Key}", $"unknown key (known: {string.Join(", ", s_keys)})");
            }
        }

        var o = new PxeOptions { Interface = section["Interface"] ?? "" };
        if (string.IsNullOrWhiteSpace(o.Interface))
        {
            throw new DaemonConfigException($"{Section}:Interface", "is required: the interface on the boot segment");
        }

        o.ServerAddress = section["ServerAddress"] is { } server ? Address("ServerAddress", server) : InterfaceAddress(o.Interface);
        if (section["LinkKind"] is { } kind)
        {
            o.LinkKind = Enum.TryParse<RawLinkKind>(kind, ignoreCase: true, out var k) && Enum.IsDefined(k)
                ? k
                : throw new DaemonConfigException($"{Section}:LinkKind", $"'{kind}' is not one of {string.Join(", ", Enum.GetNames<RawLinkKind>())}");
        }

        o.TftpRoot = section["TftpRoot"];
        o.BootRoot = section["BootRoot"];
        o.TftpPort = Int(section, "TftpPort", o.TftpPort);
        o.HttpPort = Int(section, "HttpPort", o.HttpPort);
        o.RouterAdvertisements = Bool(section, "RouterAdvertisements", o.RouterAdvertisements);
        o.LeaseTime = Time(section, "LeaseTime", o.LeaseTime);
        o.DnsServers = [.. section.GetSection("DnsServers").GetChildren().Select(c => Address("DnsServers", c.Value ?? ""))];
        o.DomainName = section["DomainName"];
        o.BiosBootFile = section["BiosBootFile"] ?? o.BiosBootFile;
        o.UefiBootFile = section["UefiBootFile"] ?? o.UefiBootFile;
        o.IpxeNoPxeDhcp = Bool(section, "IpxeNoPxeDhcp", o.IpxeNoPxeDhcp);

        var boot = o.Boot;
        boot.Kernel = section["Kernel"] ?? boot.Kernel;
        boot.Initrd = section["Initrd"] ?? boot.Initrd;
        boot.KernelArgs = section["KernelArgs"] ?? boot.KernelArgs;
        boot.IpxeTemplate = section["IpxeTemplate"];
        boot.IpxeTemplateFile = section["IpxeTemplateFile"];
        boot.PxelinuxTemplate = section["PxelinuxTemplate"];
        boot.PxelinuxTemplateFile = section["PxelinuxTemplateFile"];
        boot.Interface = section["BootInterface"] ?? boot.Interface;
        boot.IpxeScriptName = section["IpxeScriptName"] ?? boot.IpxeScriptName;

        var module = o.Module;
        module.RegisteredOnly = Bool(section, "RegisteredOnly", module.RegisteredOnly);
        module.RequirePowerOn = Bool(section, "RequirePowerOn", module.RequirePowerOn);
        module.RegisterTimeout = Time(section, "RegisterTimeout", module.RegisterTimeout);
        module.DhcpTimeout = Time(section, "DhcpTimeout", module.DhcpTimeout);
        module.FetchTimeout = Time(section, "FetchTimeout", module.FetchTimeout);
        var files = section.GetSection("BootFiles").GetChildren().Select(c => c.Value ?? "").ToList();
        module.BootFiles = files.Count > 0 ? files : [boot.Kernel, boot.Initrd];
        return o;
    }

    /// <summary>Options keys to configuration keys: <c>Boot:KernelArgs</c> is <c>KernelArgs</c>, <c>Module:DhcpTimeout</c> is <c>DhcpTimeout</c>.</summary>
    private static string ConfigKey(string key) => key switch
    {
        "Boot:Interface" => "BootInterface",
        _ when key.StartsWith("Boot:", StringComparison.Ordinal) => key[5..],
        _ when key.StartsWith("Module:", StringComparison.Ordinal) => key[7..],
        _ => key,
    };

    private static IPAddress Address(string key, string text) =>
        IPAddress.TryParse(text, out var a) && a.AddressFamily == AddressFamily.InterNetwork
            ? a
            : throw new DaemonConfigException($"{Section}:{key}", $"'{text}' is not an IPv4 address");

    /// <summary>The interface's first IPv4 address, when ServerAddress is not given.</summary>
    private static IPAddress InterfaceAddress(string name)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == name)
            ?? throw new DaemonConfigException($"{Section}:Interface", $"no interface named '{name}'");
        return nic.GetIPProperties().UnicastAddresses.Select(u => u.Address).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new DaemonConfigException($"{Section}:ServerAddress", $"interface '{name}' has no IPv4 address: set ServerAddress");
    }

    private static int Int(IConfigurationSection s, string key, int fallback) => s[key] is not { } text ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
        : throw new DaemonConfigException($"{Section}:{key}", $"'{text}' is not an integer");

    private static bool Bool(IConfigurationSection s, string key, bool fallback) => s[key] is not { } text ? fallback
        : bool.TryParse(text, out var v) ? v
        : throw new DaemonConfigException($"{Section}:{key}", $"'{text}' is not true or false");

    private static TimeSpan Time(IConfigurationSection s, string key, TimeSpan fallback) => s[key] is not { } text ? fallback
        : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var v) ? v
        : throw new DaemonConfigException($"{Section}:{key}", $"'{text}' is not a time span such as 00:01:30");
}
