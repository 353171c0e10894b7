// The kraken.* kernel arguments a network-booted node reads its identity, uplink and parents from when it has no
// configuration file; parsed from /proc/cmdline, validated with the offending key named, and rendered back.
using System.Globalization;
using System.Net;
using Kraken.Daemon.Hosting;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Boot;

/// <summary>
/// What <c>kraken serve --boot</c> needs to come up: built by <see cref="Parse"/> or <see cref="Read"/> from
/// <c>kraken.*</c> kernel arguments, rendered back by <see cref="Format"/>. Every error is a
/// <see cref="DaemonConfigException"/> whose key is the kernel argument (<c>kraken.net: '40' is not a prefix length (0..32)</c>).
/// </summary>
public sealed record KernelArguments
{
    public const string CommandLinePath = "/proc/cmdline";
    public const int DefaultPrefixLength = 24;
    public const int DefaultParentPort = 31415;
    public const string DefaultApiUrl = "http://0.0.0.0:3141";
    public const string DefaultBootstrapPath = "/etc/kraken/bootstrap";
    public const string DefaultKernel = "vmlinuz";
    public const string DefaultInitrd = "initrd.img";

    private const string Prefix = "kraken.";
    private const string IdKey = "kraken.id";
    private const string NameKey = "kraken.name";
    private const string MacKey = "kraken.mac";
    private const string InterfaceKey = "kraken.iface";
    private const string IpKey = "kraken.ip";
    private const string NetKey = "kraken.net";
    private const string GatewayKey = "kraken.gw";
    private const string ParentKey = "kraken.parent";
    private const string BootKey = "kraken.boot";
    private const string ApiKey = "kraken.api";
    private const string LogKey = "kraken.log";
    private const string MtuKey = "kraken.mtu";
    private const string BootstrapKey = "kraken.bootstrap";
    private const string KernelKey = "kraken.kernel";
    private const string InitrdKey = "kraken.initrd";

    private static readonly string[] s_keys =
        [IdKey, NameKey, MacKey, InterfaceKey, IpKey, NetKey, GatewayKey, ParentKey, BootKey, ApiKey, LogKey, MtuKey, BootstrapKey, KernelKey, InitrdKey];

    private static readonly LogLevel[] s_levels =
        [LogLevel.Trace, LogLevel.Debug, LogLevel.Information, LogLevel.Warning, LogLevel.Error, LogLevel.Critical];

    /// <summary><c>kraken.id</c>: this node's id (required, not nil).</summary>
    public required NodeId Id { get; init; }

    /// <summary><c>kraken.name</c>: the host name, or null.</summary>
    public string? Name { get; init; }

    /// <summary><c>kraken.mac</c>: the uplink NIC's hardware address; wins over <see cref="Interface"/>.</summary>
    public MacAddress? Mac { get; init; }

    /// <summary><c>kraken.iface</c>: the uplink NIC's name, used when no MAC is given.</summary>
    public string? Interface { get; init; }

    /// <summary><c>kraken.ip</c>: the uplink's IPv4 address (required).</summary>
    public required IPAddress Address { get; init; }

    /// <summary><c>kraken.net</c>, or the <c>/P</c> of <c>kraken.ip</c>: its prefix length.</summary>
    public int PrefixLength { get; init; } = DefaultPrefixLength;

    /// <summary><c>kraken.gw</c>: the default gateway, or null (an empty value means none).</summary>
    public IPAddress? Gateway { get; init; }

    /// <summary><c>kraken.parent</c>: the parents' sync endpoints, primary first (required).</summary>
    public required IReadOnlyList<IPEndPoint> Parents { get; init; }

    /// <summary><c>kraken.boot</c>: the parent's HTTP boot server base URL, where the boot files can be fetched again; or null.</summary>
    public Uri? BootUrl { get; init; }

    /// <summary><c>kraken.api</c>: where this node's REST API listens.</summary>
    public Uri ApiUrl { get; init; } = new(DefaultApiUrl);

    /// <summary><c>kraken.log</c>: the minimum log level.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary><c>kraken.mtu</c>: the uplink's MTU, or null to keep the NIC's.</summary>
    public int? Mtu { get; init; }

    /// <summary><c>kraken.kernel</c>: the kernel's path under <see cref="BootUrl"/> (what this node serves its own children).</summary>
    public string Kernel { get; init; } = DefaultKernel;

    /// <summary><c>kraken.initrd</c>: the initrd's path under <see cref="BootUrl"/>.</summary>
    public string Initrd { get; init; } = DefaultInitrd;

    /// <summary><c>kraken.bootstrap</c>: the file holding the per-boot bootstrap credential (only its path is an argument).</summary>
    public string BootstrapPath { get; init; } = DefaultBootstrapPath;

    /// <summary>The <c>kraken.*</c> keys this parser accepts.</summary>
    public static IReadOnlyList<string> Keys => s_keys;

    /// <summary>Reads and parses a kernel command line file, <c>/proc/cmdline</c> unless told otherwise.</summary>
    public static KernelArguments Read(string path = CommandLinePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigException(path, $"cannot read the kernel command line: {e.Message}");
        }

        return Parse(text);
    }

    /// <summary>
    /// Parses the <c>kraken.*</c> arguments of a kernel command line; other arguments are ignored, an unknown
    /// <c>kraken.*</c> key is an error, and of repeated keys the last wins, as in the kernel. An empty value of an
    /// optional key (<c>kraken.gw=</c>, as a template renders a missing field) leaves it unset.
    /// </summary>
    public static KernelArguments Parse(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in KernelCommandLine.Split(commandLine))
        {
            if (!key.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (Array.IndexOf(s_keys, key) < 0)
            {
                throw new DaemonConfigException(key, $"unknown kernel argument; known: {string.Join(", ", s_keys.Order(StringComparer.Ordinal))}");
            }

            values[key] = value ?? throw new DaemonConfigException(key, $"needs a value ({key}=...)");
        }

        string? Optional(string key) => values.TryGetValue(key, out var v) && v.Length > 0 ? v : null;
        string Required(string key, string what) => Optional(key) ?? throw new DaemonConfigException(key, $"is required ({what})");

        var idText = Required(IdKey, "this node's id, a UUID");
        if (!NodeId.TryParse(idText, out var id))
        {
            Fail(IdKey, idText, "is not a UUID");
        }

        var ipText = Required(IpKey, "the uplink's IPv4 address, A.B.C.D or A.B.C.D/P");
        var slash = ipText.IndexOf('/', StringComparison.Ordinal);
        var address = ParseIpv4(IpKey, slash < 0 ? ipText : ipText[..slash]);
        int? ipPrefix = slash < 0 ? null : ParsePrefix(IpKey, ipText[(slash + 1)..], ipText, "does not end in a prefix length (/0../32)");
        int? netPrefix = Optional(NetKey) is { } net ? ParsePrefix(NetKey, net, net, "is not a prefix length (0..32)") : null;
        if (ipPrefix is { } p && netPrefix is { } n && p != n)
        {
            Fail(NetKey, n.ToString(CultureInfo.InvariantCulture), $"differs from the prefix length in {IpKey}={ipText}");
        }

        var arguments = new KernelArguments
        {
            Id = id,
            Name = Optional(NameKey),
            Mac = Optional(MacKey) is { } mac ? ParseMac(mac) : null,
            Interface = Optional(InterfaceKey),
            Address = address,
            PrefixLength = ipPrefix ?? netPrefix ?? DefaultPrefixLength,
            Gateway = Optional(GatewayKey) is { } gateway ? ParseIpv4(GatewayKey, gateway) : null,
            Parents = ParseParents(Required(ParentKey, $"the parents' addresses, ADDR[:PORT][,ADDR[:PORT]...], default port {DefaultParentPort}")),
            BootUrl = Optional(BootKey) is { } boot ? ParseUrl(BootKey, boot, "http://ADDR:PORT/") : null,
            ApiUrl = Optional(ApiKey) is { } api ? ParseUrl(ApiKey, api, "http://ADDR:PORT") : new Uri(DefaultApiUrl),
            LogLevel = Optional(LogKey) is { } level ? ParseLevel(level) : LogLevel.Information,
            Mtu = Optional(MtuKey) is { } mtu ? ParseMtu(mtu) : null,
            BootstrapPath = Optional(BootstrapKey) ?? DefaultBootstrapPath,
            Kernel = Optional(KernelKey) ?? DefaultKernel,
            Initrd = Optional(InitrdKey) ?? DefaultInitrd,
        };
        arguments.Validate();
        return arguments;
    }

    /// <summary>Checks every value (also of a record built in code); throws <see cref="DaemonConfigException"/> naming the first bad key.</summary>
    public void Validate()
    {
        if (Id.IsNil)
        {
            Fail(IdKey, Id.ToString(), "is the nil UUID, not a node id");
        }

        // What Cfg accepts as a host name (RFC 1123, up to 253), and '_' as before for names taken from /Nodename.
        if (Name is { } name && !ValueRules.IsHostName(name.Replace('_', 'u')))
        {
            Fail(NameKey, name, $"is not a host name (dot-separated labels of 1..{ValueRules.MaxLabelLength} letters, digits, '-' and '_', at most {ValueRules.MaxHostNameLength})");
        }

        if (Mac is { } mac && (mac.Value == 0 || mac.IsGroup))
        {
            Fail(MacKey, mac.ToString(), "is not a NIC's address (zero, multicast or broadcast)");
        }

        // A double quote is refused too: Linux would take it, but no kernel command line can carry it (a quote
        // ends the value), so a name holding one could never be written back for the next boot.
        if (Interface is { } iface && (iface.Length is 0 or > 15 || iface is "." or ".." || iface.Any(c => c is '/' or ':' or '"' || c <= ' ' || c > '~')))
        {
            Fail(InterfaceKey, iface, "is not an interface name (1..15 characters, no '/', ':', '\"' or space)");
        }

        if (Mac is null && Interface is null)
        {
            throw new DaemonConfigException(MacKey, $"is required, or {InterfaceKey} (the uplink NIC by MAC, or by name)");
        }

        ArgumentNullException.ThrowIfNull(Address);
        var address = CheckUnicast(IpKey, Address);
        if (PrefixLength is < 0 or > 32)
        {
            Fail(NetKey, PrefixLength.ToString(CultureInfo.InvariantCulture), "is not a prefix length (0..32)");
        }

        var mask = PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);
        if (PrefixLength <= 30 && (address & ~mask) == 0)
        {
            Fail(IpKey, Address.ToString(), $"is the network address of {Address}/{PrefixLength}");
        }

        if (PrefixLength <= 30 && (address & ~mask) == ~mask)
        {
            Fail(IpKey, Address.ToString(), $"is the broadcast address of {Address}/{PrefixLength}");
        }

        if (Gateway is { } gw)
        {
            var gateway = CheckUnicast(GatewayKey, gw);
            if (gateway == address || (gateway & mask) != (address & mask))
            {
                Fail(GatewayKey, gw.ToString(), $"is not another address in {Address}/{PrefixLength}");
            }
        }

        ArgumentNullException.ThrowIfNull(Parents);
        if (Parents.Count == 0)
        {
            throw new DaemonConfigException(ParentKey, "is required (the parents' addresses, ADDR[:PORT][,ADDR[:PORT]...])");
        }

        var seen = new HashSet<IPEndPoint>();
        foreach (var parent in Parents)
        {
            CheckUnicast(ParentKey, parent.Address);
            if (parent.Port == 0)
            {
                Fail(ParentKey, parent.ToString(), "has port 0");
            }

            if (!seen.Add(parent))
            {
                Fail(ParentKey, parent.ToString(), "is listed twice");
            }
        }

        if (BootUrl is { } boot && !IsHttpBase(boot, allowPath: true))
        {
            Fail(BootKey, boot.OriginalString, "is not an http://ADDR:PORT/ URL");
        }

        ArgumentNullException.ThrowIfNull(ApiUrl);
        if (!IsHttpBase(ApiUrl, allowPath: false))
        {
            Fail(ApiKey, ApiUrl.OriginalString, "is not an http://ADDR:PORT URL");
        }

        if (Array.IndexOf(s_levels, LogLevel) < 0)
        {
            Fail(LogKey, LogLevel.ToString(), $"is not a log level ({string.Join(", ", s_levels)})");
        }

        if (Mtu is < 68 or > 65535)
        {
            Fail(MtuKey, Mtu.Value.ToString(CultureInfo.InvariantCulture), "is not an MTU (68..65535)");
        }

        foreach (var (key, path) in new[] { (KernelKey, Kernel), (InitrdKey, Initrd) })
        {
            ArgumentNullException.ThrowIfNull(path);
            if (path.Length == 0 || path.StartsWith('/') || path.Contains("..", StringComparison.Ordinal) || path.Any(c => c <= ' ' || c > '~' || c is '"' or '\\' or '?' or '#'))
            {
                Fail(key, path, "is not a plain relative path (no leading '/', no '..', spaces, quotes, '?' or '#')");
            }
        }

        ArgumentNullException.ThrowIfNull(BootstrapPath);
        if (!BootstrapPath.StartsWith('/') || BootstrapPath.Any(c => c == '"' || char.IsControl(c)))
        {
            Fail(BootstrapKey, BootstrapPath, "is not an absolute path without quotes or control characters");
        }
    }

    /// <summary>
    /// The <c>kraken.*</c> arguments that <see cref="Parse"/> reads back as an equal record: the required keys,
    /// <c>kraken.net</c>, and every optional key that is set and not at its default. Values with spaces are quoted.
    /// </summary>
    public string Format()
    {
        Validate();
        var parts = new List<string> { KernelCommandLine.Format(IdKey, Id.ToString()) };
        if (Name is not null)
        {
            parts.Add(KernelCommandLine.Format(NameKey, Name));
        }

        if (Mac is { } mac)
        {
            parts.Add(KernelCommandLine.Format(MacKey, mac.ToString()));
        }

        if (Interface is not null)
        {
            parts.Add(KernelCommandLine.Format(InterfaceKey, Interface));
        }

        parts.Add(KernelCommandLine.Format(IpKey, Address.ToString()));
        parts.Add(KernelCommandLine.Format(NetKey, PrefixLength.ToString(CultureInfo.InvariantCulture)));
        if (Gateway is not null)
        {
            parts.Add(KernelCommandLine.Format(GatewayKey, Gateway.ToString()));
        }

        parts.Add(KernelCommandLine.Format(ParentKey, string.Join(',', Parents.Select(p => p.ToString()))));
        if (BootUrl is not null)
        {
            parts.Add(KernelCommandLine.Format(BootKey, BootUrl.OriginalString));
        }

        if (!ApiUrl.Equals(new Uri(DefaultApiUrl)))
        {
            parts.Add(KernelCommandLine.Format(ApiKey, ApiUrl.OriginalString));
        }

        if (LogLevel != LogLevel.Information)
        {
            parts.Add(KernelCommandLine.Format(LogKey, LogLevel.ToString()));
        }

        if (Mtu is { } mtu)
        {
            parts.Add(KernelCommandLine.Format(MtuKey, mtu.ToString(CultureInfo.InvariantCulture)));
        }

        if (BootstrapPath != DefaultBootstrapPath)
        {
            parts.Add(KernelCommandLine.Format(BootstrapKey, BootstrapPath));
        }

        if (Kernel != DefaultKernel)
        {
            parts.Add(KernelCommandLine.Format(KernelKey, Kernel));
        }

        if (Initrd != DefaultInitrd)
        {
            parts.Add(KernelCommandLine.Format(InitrdKey, Initrd));
        }

        return string.Join(' ', parts);
    }

    public override string ToString() => Format();

    /// <summary>The uplink for <see cref="NetworkConfigurator.ConfigureAsync"/>.</summary>
    public UplinkConfiguration ToUplink() => new()
    {
        Mac = Mac,
        InterfaceName = Interface,
        Address = Address,
        PrefixLength = PrefixLength,
        Gateway = Gateway,
        Mtu = Mtu,
    };

    public bool Equals(KernelArguments? other) =>
        other is not null
        && Id == other.Id && Name == other.Name && Mac == other.Mac && Interface == other.Interface
        && Address.Equals(other.Address) && PrefixLength == other.PrefixLength && Equals(Gateway, other.Gateway)
        && Parents.SequenceEqual(other.Parents) && Equals(BootUrl, other.BootUrl) && ApiUrl.Equals(other.ApiUrl)
        && LogLevel == other.LogLevel && Mtu == other.Mtu && BootstrapPath == other.BootstrapPath
        && Kernel == other.Kernel && Initrd == other.Initrd;

    public override int GetHashCode() => HashCode.Combine(Id, Address, PrefixLength, Parents.Count, Mac, Interface);

    private static IPAddress ParseIpv4(string key, string text)
    {
        // Strict dotted decimal: IPAddress.Parse would also take "10.1", hex, octal and IPv6.
        var parts = text.Split('.');
        if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0') || int.Parse(p, CultureInfo.InvariantCulture) > 255))
        {
            Fail(key, text, "is not an IPv4 address (A.B.C.D)");
        }

        return new IPAddress(parts.Select(p => byte.Parse(p, CultureInfo.InvariantCulture)).ToArray());
    }

    private static int ParsePrefix(string key, string text, string shown, string problem)
    {
        if (text.Length is 0 or > 2 || !text.All(char.IsAsciiDigit) || int.Parse(text, CultureInfo.InvariantCulture) > 32)
        {
            Fail(key, shown, problem);
        }

        return int.Parse(text, CultureInfo.InvariantCulture);
    }

    private static MacAddress ParseMac(string text)
    {
        // 52:54:00:18:00:11, 52-54-00-18-00-11 or 525400180011, either case.
        var hex = text.Length == 17 && (text.Count(c => c == ':') == 5 || text.Count(c => c == '-') == 5)
            && Enumerable.Range(0, 5).All(i => text[(i * 3) + 2] == text[2])
            ? text.Replace(text[2].ToString(), string.Empty, StringComparison.Ordinal)
            : text;
        if (hex.Length != 12 || !hex.All(char.IsAsciiHexDigit))
        {
            Fail(MacKey, text, "is not a MAC address (52:54:00:18:00:11, 52-54-00-18-00-11 or 525400180011)");
        }

        return new MacAddress(ulong.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }

    private static List<IPEndPoint> ParseParents(string text)
    {
        var parents = new List<IPEndPoint>();
        foreach (var entry in text.Split(','))
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (entry.Length == 0)
            {
                Fail(ParentKey, text, "has an empty entry");
            }

            var address = ParseIpv4(ParentKey, colon < 0 ? entry : entry[..colon]);
            var port = DefaultParentPort;
            if (colon >= 0)
            {
                var portText = entry[(colon + 1)..];
                if (portText.Length is 0 or > 5 || !portText.All(char.IsAsciiDigit) || (port = int.Parse(portText, CultureInfo.InvariantCulture)) is 0 or > 65535)
                {
                    Fail(ParentKey, entry, "does not end in a port (1..65535)");
                }
            }

            parents.Add(new IPEndPoint(address, port));
        }

        return parents;
    }

    private static Uri ParseUrl(string key, string text, string form)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            Fail(key, text, $"is not an {form} URL");
        }

        return uri;
    }

    private static LogLevel ParseLevel(string text)
    {
        foreach (var level in s_levels)
        {
            if (string.Equals(level.ToString(), text, StringComparison.OrdinalIgnoreCase))
            {
                return level;
            }
        }

        Fail(LogKey, text, $"is not a log level ({string.Join(", ", s_levels)})");
        return default;
    }

    private static int ParseMtu(string text)
    {
        if (text.Length is 0 or > 5 || !text.All(char.IsAsciiDigit))
        {
            Fail(MtuKey, text, "is not an MTU (68..65535)");
        }

        return int.Parse(text, CultureInfo.InvariantCulture);
    }

    private static uint CheckUnicast(string key, IPAddress address)
    {
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            Fail(key, address.ToString(), "is not an IPv4 address (A.B.C.D)");
        }

        var bytes = address.GetAddressBytes();
        var value = ((uint)bytes[0] << 24) | ((uint)bytes[1] << 16) | ((uint)bytes[2] << 8) | bytes[3];
        if (value == 0 || value == uint.MaxValue || bytes[0] == 127 || bytes[0] is >= 224 and <= 239)
        {
            Fail(key, address.ToString(), "is not a unicast address (not 0.0.0.0, 127/8, multicast or broadcast)");
        }

        return value;
    }

    private static bool IsHttpBase(Uri uri, bool allowPath) =>
        uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttp || (allowPath && uri.Scheme == Uri.UriSchemeHttps))
        && uri.Host.Length > 0 && uri.UserInfo.Length == 0 && uri.Query.Length == 0 && uri.Fragment.Length == 0
        && (allowPath || uri.AbsolutePath == "/")
        && !uri.OriginalString.Any(c => c == '"' || char.IsWhiteSpace(c) || char.IsControl(c));

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(string key, string value, string problem) =>
        throw new DaemonConfigException(key, $"'{value}' {problem}");
}
