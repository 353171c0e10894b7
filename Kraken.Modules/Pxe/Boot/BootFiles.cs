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
        "console=ttyS0 kraken.id={{node}} kraken.name={{hostname}} kraken.mac={{mac}} kraken.ip={{ip}} kraken.net={{prefix}} kraken.gw={{gateway}} " +
        "kraken.parent={{parents}} kraken.boot={{boot-url}} kraken.kernel={{kernel}} kraken.initrd={{initrd}}";

    /// <summary>
    /// The node's kernel and initrd, then its bootstrap archive as a second initrd (the kernel unpacks both). A boot
    /// that gets no archive (no credential to hand out) still boots: the line's failure is only reported.
    /// </summary>
    public const string DefaultIpxeTemplate =
        "#!ipxe\nkernel {{http}}/{{kernel}} initrd={{initrd}} {{kernel-args}}\ninitrd {{http}}/{{initrd}}\n" +
        "initrd {{bootstrap}} || echo kraken: no bootstrap credential for this boot\nboot\n";

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

    /// <summary>This daemon's sync port: the <c>{{parents}}</c> field appends it when it is not 31415.</summary>
    public int SyncPort { get; set; } = 31415;
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

    /// <summary>
    /// The bootstrap archive (<see cref="BootstrapArchive"/>) for one boot of a node, served once at
    /// <see cref="BootstrapArchive.Path"/> to the node's own address; null when there is none to hand out. Unset: the
    /// path is not served.
    /// </summary>
    public Func<BootNode, byte[]?>? Bootstrap { get; set; }

    /// <summary>The bootstrap archive for the node at <paramref name="client"/>, if it may have one now.</summary>
    public byte[]? TryBootstrap(IPAddress client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return Bootstrap is { } issue && Nodes.TryGetByAddress(client, out var node) ? issue(node) : null;
    }

    /// <summary>The TFTP path pxelinux asks for first: <c>pxelinux.cfg/01-52-54-00-18-00-01</c>.</summary>
    public static string PxelinuxName(PhysicalAddress mac) => PxelinuxPrefix + BootNode.FormatMac(mac, '-');

    /// <summary>
    /// The node's kernel command line: a value with spaces is quoted as the kernel reads it back; one that cannot be
    /// said there (a double quote, a control character) is a <see cref="BootRenderException"/>.
    /// </summary>
    public string RenderKernelArgs(BootNode node) => RenderKernelArgs(node, BootSyntax.KernelCommandLine);

    /// <summary>The node's iPXE script; throws <see cref="BootRenderException"/> for a value iPXE or the kernel cannot take safely.</summary>
    public string RenderIpxe(BootNode node)
    {
        var args = RenderKernelArgs(node, BootSyntax.KernelCommandLine | BootSyntax.Ipxe);
        return _ipxe.Render(f => Value(node, f, args), BootSyntax.Ipxe, node.Id, KernelArgsField);
    }

    /// <summary>The node's pxelinux config; throws <see cref="BootRenderException"/> for a value that cannot be said safely.</summary>
    public string RenderPxelinux(BootNode node)
    {
        var args = RenderKernelArgs(node, BootSyntax.KernelCommandLine | BootSyntax.Pxelinux);
        return _pxelinux.Render(f => Value(node, f, args), BootSyntax.Pxelinux, node.Id, KernelArgsField);
    }

    private const string KernelArgsField = "kernel-args";

    private string RenderKernelArgs(BootNode node, BootSyntax syntax)
    {
        ArgumentNullException.ThrowIfNull(node);
        return _kernelArgs.Render(f => Value(node, f, kernelArgs: null), syntax, node.Id, null);
    }

    /// <summary>
    /// The rendered file for a TFTP read of <paramref name="path"/> by <paramref name="client"/>: the client's
    /// iPXE script (<see cref="BootFilesOptions.IpxeScriptName"/>) or its own pxelinux config; null when the
    /// client is not a node we boot or the path is not one of its files. Throws <see cref="BootRenderException"/> when
    /// the node's file cannot be rendered safely.
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

        if (p.Equals(BootstrapArchive.Path, StringComparison.Ordinal))
        {
            return Bootstrap?.Invoke(node);
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
        "parents" => string.Join(',', Parents(node).Select(a => _options.SyncPort == DefaultSyncPort ? a.ToString() : $"{a}:{_options.SyncPort.ToString(CultureInfo.InvariantCulture)}")),
        "boot-url" => _options.HttpBaseUrl is null ? "" : _http + "/",
        "bootstrap" => $"{_http}/{BootstrapArchive.Path}",
        _ => null,
    };

    private const int DefaultSyncPort = 31415;

    /// <summary>Where the node joins: this daemon first, then the backup parents its Cfg names, each at its address on the node's segment.</summary>
    private IEnumerable<IPAddress> Parents(BootNode node)
    {
        yield return _options.ServerAddress;
        foreach (var backup in Nodes.BackupParentAddresses(node))
        {
            if (!backup.Equals(_options.ServerAddress))
            {
                yield return backup;
            }
        }
    }

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
