// Per-node boot files (iPXE script, pxelinux config) rendered from templates with the node's fields.
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text;

namespace Kraken.Modules.Pxe;

/// <summary>Templates and names for <see cref="BootFiles"/>. Keys in errors are these property names.</summary>
public sealed class BootFilesOptions
{
    public const string DefaultKernelArgs =
        "console=ttyS0 kraken.id={{node}} kraken.name={{hostname}} kraken.ip={{ip}} kraken.net={{prefix}} kraken.gw={{gateway}} kraken.parent={{server}}";

    public const string DefaultIpxeTemplate =
        "#!ipxe\nkernel {{http}}/{{kernel}} initrd={{initrd}} {{kernel-args}}\ninitrd {{http}}/{{initrd}}\nboot\n";

    public const string DefaultPxelinuxTemplate =
        "DEFAULT kraken\nPROMPT 0\nLABEL kraken\n  KERNEL {{kernel}}\n  INITRD {{initrd}}\n  APPEND initrd={{initrd}} {{kernel-args}}\n";

    /// <summary>Our address on the boot segment (the <c>{{server}}</c> field).</summary>
    public IPAddress ServerAddress { get; set; } = IPAddress.Loopback;

    /// <summary>The HTTP boot base URL (the <c>{{http}}</c> field), e.g. <c>http://198.18.0.1:8080</c>; null means <c>tftp://{server}</c>.</summary>
    public string? HttpBaseUrl { get; set; }

    /// <summary>The kernel's path under the boot root (the <c>{{kernel}}</c> field).</summary>
    public string Kernel { get; set; } = "vmlinuz";

    /// <summary>The initrd's path under the boot root (the <c>{{initrd}}</c> field).</summary>
    public string Initrd { get; set; } = "initrd.img";

    /// <summary>The kernel command line template (the <c>{{kernel-args}}</c> field); may use every other field.</summary>
    public string KernelArgs { get; set; } = DefaultKernelArgs;

    /// <summary>An inline iPXE script template; <see cref="IpxeTemplateFile"/> wins when both are set.</summary>
    public string? IpxeTemplate { get; set; }

    public string? IpxeTemplateFile { get; set; }

    /// <summary>An inline pxelinux config template; <see cref="PxelinuxTemplateFile"/> wins when both are set.</summary>
    public string? PxelinuxTemplate { get; set; }

    public string? PxelinuxTemplateFile { get; set; }

    /// <summary>The IPv4 interface of a node's Cfg to boot over (see <see cref="BootNode.FromRecord"/>).</summary>
    public string Interface { get; set; } = BootNode.DefaultInterface;

    /// <summary>The TFTP name under which a client gets its own iPXE script.</summary>
    public string IpxeScriptName { get; set; } = "boot.ipxe";
}

/// <summary>
/// Renders a node's boot files. The templates are parsed when this is created, so a bad template stops the
/// daemon at start with the key named. Used by the HTTP boot server (<c>/boot/{node}.ipxe</c>) and by
/// <c>BootFileSource</c> for TFTP.
/// </summary>
public sealed class BootFiles
{
    private const string PxelinuxPrefix = "pxelinux.cfg/01-";

    private readonly BootFilesOptions _options;
    private readonly BootTemplate _ipxe;
    private readonly BootTemplate _pxelinux;
    private readonly BootTemplate _kernelArgs;
    private readonly string _http;

    public BootFiles(BootFilesOptions options, BootNodeDirectory nodes)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(nodes);
        _options = options;
        Nodes = nodes;
        Check(nameof(options.Kernel), options.Kernel);
        Check(nameof(options.Initrd), options.Initrd);
        Check(nameof(options.IpxeScriptName), options.IpxeScriptName);
        if (options.HttpBaseUrl is { } url && !(Uri.TryCreate(url, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)))
        {
            throw new BootTemplateException(nameof(options.HttpBaseUrl), $"'{url}' is not an absolute http:// or https:// URL");
        }

        _http = options.HttpBaseUrl?.TrimEnd('/') ?? $"tftp://{options.ServerAddress}";
        _kernelArgs = BootTemplate.Parse(nameof(options.KernelArgs), options.KernelArgs, [.. BootTemplate.Fields.Where(f => f != "kernel-args")]);
        _ipxe = Load(nameof(options.IpxeTemplate), options.IpxeTemplate, nameof(options.IpxeTemplateFile), options.IpxeTemplateFile, BootFilesOptions.DefaultIpxeTemplate);
        _pxelinux = Load(nameof(options.PxelinuxTemplate), options.PxelinuxTemplate, nameof(options.PxelinuxTemplateFile), options.PxelinuxTemplateFile, BootFilesOptions.DefaultPxelinuxTemplate);
    }

    public BootNodeDirectory Nodes { get; }

    public BootFilesOptions Options => _options;

    /// <summary>The TFTP path pxelinux asks for first: <c>pxelinux.cfg/01-52-54-00-18-00-01</c>.</summary>
    public static string PxelinuxName(PhysicalAddress mac) => PxelinuxPrefix + BootNode.FormatMac(mac, '-');

    public string RenderKernelArgs(BootNode node) => _kernelArgs.Render(f => Value(node, f, kernelArgs: null));

    public string RenderIpxe(BootNode node)
    {
        var args = RenderKernelArgs(node);
        return _ipxe.Render(f => Value(node, f, args));
    }

    public string RenderPxelinux(BootNode node)
    {
        var args = RenderKernelArgs(node);
        return _pxelinux.Render(f => Value(node, f, args));
    }

    /// <summary>
    /// The rendered file for a TFTP read of <paramref name="path"/> by <paramref name="client"/>: the client's
    /// iPXE script (<see cref="BootFilesOptions.IpxeScriptName"/>) or its own pxelinux config; null when the
    /// client is not a node we boot or the path is not one of its files.
    /// </summary>
    public byte[]? TryRenderForClient(string path, IPAddress client)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(client);
        var p = path.TrimStart('/');
        if (!Nodes.TryGetByAddress(client, out var node))
        {
            return null;
        }

        if (p.Equals(_options.IpxeScriptName, StringComparison.Ordinal))
        {
            return Encoding.UTF8.GetBytes(RenderIpxe(node));
        }

        if (node.Mac is not null && p.Equals(PxelinuxName(node.Mac), StringComparison.OrdinalIgnoreCase))
        {
            return Encoding.UTF8.GetBytes(RenderPxelinux(node));
        }

        return null;
    }

    private string? Value(BootNode node, string field, string? kernelArgs) => field switch
    {
        "node" => node.Id.ToString(),
        "hostname" => node.Hostname ?? node.Id.ToString(),
        "ip" => node.Address?.ToString(),
        "prefix" => node.PrefixLength.ToString(CultureInfo.InvariantCulture),
        "netmask" => node.Netmask,
        "gateway" => node.Gateway?.ToString() ?? "",
        "mac" => node.Mac is null ? "" : BootNode.FormatMac(node.Mac),
        "mac-dashes" => node.Mac is null ? "" : BootNode.FormatMac(node.Mac, '-'),
        "server" => _options.ServerAddress.ToString(),
        "http" => _http,
        "kernel" => _options.Kernel,
        "initrd" => _options.Initrd,
        "kernel-args" => kernelArgs,
        "arch" => node.Arch ?? "",
        "platform" => node.Platform ?? "",
        _ => null,
    };

    private static BootTemplate Load(string inlineKey, string? inline, string fileKey, string? file, string fallback)
    {
        if (file is not null)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new BootTemplateException(fileKey, $"cannot read '{file}': {e.Message}");
            }

            return BootTemplate.Parse(fileKey, text);
        }

        return BootTemplate.Parse(inlineKey, inline ?? fallback);
    }

    private static void Check(string key, string value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Contains("..", StringComparison.Ordinal) || value.Any(char.IsWhiteSpace))
        {
            throw new BootTemplateException(key, $"'{value}' is not a plain relative path (no spaces, no '..')");
        }
    }
}
