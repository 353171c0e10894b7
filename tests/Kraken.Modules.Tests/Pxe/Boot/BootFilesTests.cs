// Boot file templates: fields, rendering per node, configuration errors, and the node index behind them.
using System.Net;
using System.Text;
using Kraken.Modules.Pxe;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Pxe.Boot;

public class BootFilesTests
{
    private static BootFiles Files(StateStore store, BootFilesOptions? options = null) =>
        new(options ?? new BootFilesOptions { ServerAddress = IPAddress.Parse("198.18.0.1"), HttpBaseUrl = "http://198.18.0.1:8080/" }, BootNodes.Directory(store));

    [Fact]
    public void Default_ipxe_script_boots_the_kernel_and_initrd_over_http_with_the_nodes_identity()
    {
        var store = BootNodes.Store();
        var id = BootNodes.Add(store, "n1", "52:54:00:18:00:01", "198.18.0.11", 24, "198.18.0.1");
        var files = Files(store);
        Assert.True(files.Nodes.TryGetById(id, out var node));
        var script = files.RenderIpxe(node);
        var lines = script.Split('\n');
        Assert.Equal("#!ipxe", lines[0]);
        Assert.Equal(
            $"kernel http://198.18.0.1:8080/vmlinuz initrd=initrd.img console=ttyS0 kraken.id={id} kraken.name=n1 kraken.mac=52:54:00:18:00:01 " +
            "kraken.ip=198.18.0.11 kraken.net=24 kraken.gw=198.18.0.1 kraken.parent=198.18.0.1 kraken.boot=http://198.18.0.1:8080/ kraken.kernel=vmlinuz kraken.initrd=initrd.img",
            lines[1]);
        Assert.Equal("initrd http://198.18.0.1:8080/initrd.img", lines[2]);
        Assert.Equal("initrd http://198.18.0.1:8080/boot/bootstrap.cpio || echo kraken: no bootstrap credential for this boot", lines[3]);
        Assert.Equal("boot", lines[4]);
    }

    [Fact]
    public void The_parents_field_lists_this_daemon_then_each_backup_parent_at_its_address_on_the_nodes_segment()
    {
        var store = BootNodes.Store();
        var id = BootNodes.Add(store, "n1", "52:54:00:18:01:11", "198.18.1.11", 24, "198.18.1.1");

        // The backup parent has an uplink (kraken) and an interface on n1's segment; the second has only its uplink.
        var backup = BootNodes.Add(store, "t2", "52:54:00:18:00:12", "198.18.0.12", 24, parent: NodeId.FromName("root"));
        store.Set(StateView.Cfg, backup, "/Extensions/IPv4/Interfaces/pxe/Ip", "198.18.1.2");
        store.Set(StateView.Cfg, backup, "/Extensions/IPv4/Interfaces/pxe/Mac", "52:54:00:18:02:01");
        var other = BootNodes.Add(store, "t3", "52:54:00:18:00:13", "198.18.0.13", 24, parent: NodeId.FromName("root"));
        store.Set(StateView.Cfg, id, "/BackupParents", $"{backup},{other},{NodeId.FromName("gone")}");

        var files = Files(store, new BootFilesOptions { ServerAddress = IPAddress.Parse("198.18.1.1"), HttpBaseUrl = "http://198.18.1.1:8080" });
        Assert.True(files.Nodes.TryGetById(id, out var node));
        Assert.Contains(" kraken.parent=198.18.1.1,198.18.1.2,198.18.0.13 ", files.RenderKernelArgs(node) + " ", StringComparison.Ordinal);

        // A daemon on another sync port says so for every parent (a tree uses one port).
        var ported = Files(store, new BootFilesOptions { ServerAddress = IPAddress.Parse("198.18.1.1"), SyncPort = 31416 });
        Assert.Contains(" kraken.parent=198.18.1.1:31416,198.18.1.2:31416,198.18.0.13:31416 ", ported.RenderKernelArgs(node) + " ", StringComparison.Ordinal);

        // Without HTTP there is no boot URL to fetch the image from again.
        Assert.Contains(" kraken.boot= ", ported.RenderKernelArgs(node), StringComparison.Ordinal);
    }

    [Fact]
    public void Without_an_http_url_the_script_fetches_over_tftp_from_the_server()
    {
        var store = BootNodes.Store();
        var id = BootNodes.Add(store, "n1", "52:54:00:18:00:01", "198.18.0.11");
        var files = Files(store, new BootFilesOptions { ServerAddress = IPAddress.Parse("198.18.0.1"), Kernel = "k/vmlinuz" });
        Assert.True(files.Nodes.TryGetById(id, out var node));
        Assert.Contains("kernel tftp://198.18.0.1/k/vmlinuz ", files.RenderIpxe(node), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_field_renders_and_ipxe_settings_in_single_braces_pass_through()
    {
        var store = BootNodes.Store();
        var id = BootNodes.Add(store, "n1", "52:54:00:18:00:0a", "198.18.1.20", 23, "198.18.0.254");
        var template = "{{node}}|{{hostname}}|{{ip}}|{{prefix}}|{{netmask}}|{{gateway}}|{{mac}}|{{mac-dashes}}|{{server}}|{{http}}|{{kernel}}|{{initrd}}|{{ arch }}|${net0/mac}";
        var files = Files(store, new BootFilesOptions { ServerAddress = IPAddress.Parse("198.18.0.1"), IpxeTemplate = template });
        Assert.True(files.Nodes.TryGetById(id, out var node));
        Assert.Equal(
            $"{id}|n1|198.18.1.20|23|255.255.254.0|198.18.0.254|52:54:00:18:00:0a|52-54-00-18-00-0a|198.18.0.1|tftp://198.18.0.1|vmlinuz|initrd.img||${{net0/mac}}",
            files.RenderIpxe(node));
    }

    [Theory]
    [InlineData("kernel {{kernel}} {{nodeid}}", "IpxeTemplate", "nodeid")]
    [InlineData("kernel {{kernel", "IpxeTemplate", "never closed")]
    public void Unknown_or_unterminated_fields_are_configuration_errors_naming_the_key(string template, string key, string detail)
    {
        var e = Assert.Throws<BootTemplateException>(() => Files(BootNodes.Store(), new BootFilesOptions { IpxeTemplate = template }));
        Assert.Equal(key, e.Key);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kernel_args_may_not_refer_to_themselves_and_bad_names_and_urls_are_refused()
    {
        Assert.Equal("KernelArgs", Assert.Throws<BootTemplateException>(() => Files(BootNodes.Store(), new BootFilesOptions { KernelArgs = "a {{kernel-args}}" })).Key);
        Assert.Equal("PxelinuxTemplate", Assert.Throws<BootTemplateException>(() => Files(BootNodes.Store(), new BootFilesOptions { PxelinuxTemplate = "{{x}}" })).Key);
        Assert.Equal("Kernel", Assert.Throws<BootTemplateException>(() => Files(BootNodes.Store(), new BootFilesOptions { Kernel = "../etc/passwd" })).Key);
        Assert.Equal("HttpBaseUrl", Assert.Throws<BootTemplateException>(() => Files(BootNodes.Store(), new BootFilesOptions { HttpBaseUrl = "ftp://x" })).Key);
        Assert.Equal("IpxeTemplateFile", Assert.Throws<BootTemplateException>(() => Files(BootNodes.Store(), new BootFilesOptions { IpxeTemplateFile = "/nonexistent/boot.tpl" })).Key);
    }

    [Fact]
    public void Template_files_are_read_at_start_and_win_over_inline_templates()
    {
        var path = Path.Combine(Path.GetTempPath(), $"kraken-tpl-{Guid.NewGuid():N}.ipxe");
        try
        {
            File.WriteAllText(path, "#!ipxe\necho {{hostname}}\n");
            var store = BootNodes.Store();
            var id = BootNodes.Add(store, "n7", "52:54:00:18:00:07", "198.18.0.17");
            var files = Files(store, new BootFilesOptions { IpxeTemplate = "ignored", IpxeTemplateFile = path });
            Assert.True(files.Nodes.TryGetById(id, out var node));
            Assert.Equal("#!ipxe\necho n7\n", files.RenderIpxe(node));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Tftp_rendering_serves_a_clients_own_files_by_its_address_only()
    {
        var store = BootNodes.Store();
        BootNodes.Add(store, "n1", "52:54:00:18:00:01", "198.18.0.11");
        BootNodes.Add(store, "n2", "52:54:00:18:00:02", "198.18.0.12");
        var files = Files(store);
        var n1 = IPAddress.Parse("198.18.0.11");

        var pxelinux = files.TryRenderForClient("pxelinux.cfg/01-52-54-00-18-00-01", n1);
        Assert.NotNull(pxelinux);
        var text = Encoding.UTF8.GetString(pxelinux);
        Assert.Contains("KERNEL vmlinuz", text, StringComparison.Ordinal);
        Assert.Contains("APPEND initrd=initrd.img console=ttyS0", text, StringComparison.Ordinal);
        Assert.Contains("kraken.ip=198.18.0.11", text, StringComparison.Ordinal);

        Assert.StartsWith("#!ipxe", Encoding.UTF8.GetString(files.TryRenderForClient("/boot.ipxe", n1)!), StringComparison.Ordinal);
        Assert.Null(files.TryRenderForClient("pxelinux.cfg/01-52-54-00-18-00-02", n1));  // another node's file
        Assert.Null(files.TryRenderForClient("vmlinuz", n1));                              // a plain file: the directory's
        Assert.Null(files.TryRenderForClient("boot.ipxe", IPAddress.Parse("198.18.0.99"))); // a stranger
        Assert.NotNull(files.TryRenderForClient("boot.ipxe", n1.MapToIPv6()));              // as a dual-stack socket reports it
    }

    [Fact]
    public void Directory_follows_cfg_changes_and_ignores_nodes_outside_the_subtree()
    {
        var store = BootNodes.Store();
        using var nodes = BootNodes.Directory(store);
        Assert.Equal(0, nodes.Count);
        var id = BootNodes.Add(store, "n1", "52:54:00:18:00:01", "198.18.0.11");
        BootNodes.Add(store, "other", "52:54:00:18:00:09", "198.18.0.19", parent: NodeId.FromName("someone-else"));
        Assert.True(nodes.TryGetByMac(new System.Net.NetworkInformation.PhysicalAddress([0x52, 0x54, 0, 0x18, 0, 1]), out var byMac));
        Assert.Equal(id, byMac.Id);
        Assert.True(nodes.TryGetByName("N1", out _));
        Assert.True(nodes.TryGetByName(id.ToString(), out _));
        Assert.False(nodes.TryGetByAddress(IPAddress.Parse("198.18.0.19"), out _));

        store.Set(StateView.Cfg, id, "/Extensions/IPv4/Interfaces/kraken/Ip", "198.18.0.21");
        Assert.False(nodes.TryGetByAddress(IPAddress.Parse("198.18.0.11"), out _));
        Assert.True(nodes.TryGetByAddress(IPAddress.Parse("198.18.0.21"), out _));

        store.Delete(id);
        Assert.Equal(0, nodes.Count);
    }

    [Fact]
    public void Boot_interface_falls_back_to_the_first_interface_with_mac_and_address()
    {
        var store = BootNodes.Store();
        var id = BootNodes.Add(store, "n1", "52:54:00:18:00:01", "198.18.0.11", iface: "eth0");
        var node = BootNode.FromRecord(store.GetRequired(StateView.Cfg, id));
        Assert.Equal(IPAddress.Parse("198.18.0.11"), node.Address);
        Assert.Equal("52:54:00:18:00:01", BootNode.FormatMac(node.Mac!));
    }
}
