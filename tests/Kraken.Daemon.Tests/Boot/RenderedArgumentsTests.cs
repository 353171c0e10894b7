// Kernel arguments rendered into boot files read back by the parser `kraken serve --boot` uses, to the same values.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Daemon.Boot;
using Kraken.Modules.Pxe;
using Kraken.Tree.State;

namespace Kraken.Daemon.Tests.Boot;

public sealed class RenderedArgumentsTests
{
    private static readonly NodeId s_id = NodeId.FromName("n1");

    private static BootNode Node(string hostname, string? platform = null) =>
        new(s_id, hostname, PhysicalAddress.Parse("52-54-00-18-00-01"), IPAddress.Parse("198.18.0.11"), 24, IPAddress.Parse("198.18.0.1"), "x86_64", platform);

    private static BootFiles Files(string kernelArgs = BootFilesOptions.DefaultKernelArgs) =>
        new(
            new BootFilesOptions { ServerAddress = IPAddress.Parse("198.18.0.1"), HttpBaseUrl = "http://198.18.0.1:8080", KernelArgs = kernelArgs },
            new BootNodeDirectory(new StateStore(), _ => false));

    /// <summary>The kernel command line of a pxelinux config: the rest of its APPEND line.</summary>
    private static string Append(string config) =>
        config.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("APPEND ", StringComparison.Ordinal))["APPEND ".Length..];

    /// <summary>
    /// The kernel command line iPXE hands over for a script's <c>kernel</c> line: the line split at whitespace (no
    /// quoting), the command and the image URI taken off, the other words joined with single spaces.
    /// </summary>
    private static string IpxeCommandLine(string script)
    {
        var words = script.Split('\n').Single(l => l.StartsWith("kernel ", StringComparison.Ordinal)).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return string.Join(' ', words.Skip(2));
    }

    [Theory]
    [InlineData("n1")]
    [InlineData("node-001.rack-7.cluster.example")]
    [InlineData("a23456789012345678901234567890123456789012345678901234567890123.b23456789012345678901234567890123456789012345678901234567890123.c")]
    public void The_default_arguments_parse_back_to_the_nodes_values(string hostname)
    {
        var files = Files();
        var node = Node(hostname);
        foreach (var commandLine in new[] { files.RenderKernelArgs(node), Append(files.RenderPxelinux(node)), IpxeCommandLine(files.RenderIpxe(node)) })
        {
            var parsed = KernelArguments.Parse(commandLine);
            Assert.Equal(s_id, parsed.Id);
            Assert.Equal(hostname, parsed.Name);
            Assert.Equal(IPAddress.Parse("198.18.0.11"), parsed.Address);
            Assert.Equal(24, parsed.PrefixLength);
            Assert.Equal(IPAddress.Parse("198.18.0.1"), parsed.Gateway);
            Assert.Equal([new IPEndPoint(IPAddress.Parse("198.18.0.1"), 31415)], parsed.Parents);
        }
    }

    [Theory]
    [InlineData("rack 7 row 2")]
    [InlineData("${root-path}")]
    [InlineData("a=b c=d")]
    [InlineData(" leading and trailing ")]
    [InlineData("-- init=/bin/sh")]
    public void Values_with_spaces_and_settings_are_one_parameter_to_the_kernel(string platform)
    {
        var files = Files("console=ttyS0 kraken.id={{node}} kraken.name={{hostname}} kraken.mac={{mac}} kraken.ip={{ip}} kraken.parent={{parents}} platform={{platform}} last=1");
        var node = Node("n1", platform);
        var commandLines = new List<string> { files.RenderKernelArgs(node), Append(files.RenderPxelinux(node)) };
        if (!platform.Contains('$', StringComparison.Ordinal))
        {
            commandLines.Add(IpxeCommandLine(files.RenderIpxe(node)));
        }
        else
        {
            Assert.Throws<BootRenderException>(() => files.RenderIpxe(node));
        }

        foreach (var commandLine in commandLines)
        {
            // pxelinux and iPXE lines name the initrd first.
            var parameters = KernelCommandLine.Split(commandLine).Where(p => p.Key != "initrd").ToList();
            Assert.Equal(["console", "kraken.id", "kraken.name", "kraken.mac", "kraken.ip", "kraken.parent", "platform", "last"], parameters.Select(p => p.Key));
            Assert.Equal(platform, parameters.Single(p => p.Key == "platform").Value);
            Assert.Equal("n1", KernelArguments.Parse(commandLine).Name);
        }
    }
}
