// "kraken lab ..." argument handling in-process: bad input is a usage error naming the argument and makes nothing.
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Lab;
using static Kraken.Daemon.Tests.Cli.CliRun;

namespace Kraken.Daemon.Tests.Lab;

[SupportedOSPlatform("linux")]
public sealed class LabCommandTests : IDisposable
{
    private readonly string _parent = Directory.CreateTempSubdirectory("kraken-lab-cli-").FullName;

    private string Dir => Path.Combine(_parent, "lab");

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    [Fact]
    public void A_cached_image_is_current_only_when_it_holds_this_krakens_version_or_does_not_say()
    {
        Directory.CreateDirectory(Dir);
        Assert.True(LabUp.IsCurrent(Dir)); // made by hand: no image.json

        File.WriteAllText(Path.Combine(Dir, "image.json"), $$"""{ "format": "kraken-image/1", "kraken": { "kind": "aot", "version": "{{BuildInfo.Line}}" } }""");
        Assert.True(LabUp.IsCurrent(Dir));

        File.WriteAllText(Path.Combine(Dir, "image.json"), """{ "format": "kraken-image/1", "kraken": { "kind": "aot", "version": "kraken 0.9.0+0123abc (aot, linux-x64, .NET 10.0.0)" } }""");
        Assert.False(LabUp.IsCurrent(Dir));
        Assert.Equal("kraken 0.9.0+0123abc (aot, linux-x64, .NET 10.0.0)", LabUp.ImageKraken(Dir));

        File.WriteAllText(Path.Combine(Dir, "image.json"), "{ not json");
        Assert.True(LabUp.IsCurrent(Dir));
    }

    [Theory]
    [InlineData(new[] { "lab" }, "lab needs a verb")]
    [InlineData(new[] { "lab", "sideways" }, "'lab sideways' is not a verb")]
    [InlineData(new[] { "lab", "up", "--tier1" }, "--tier1 needs a value")]
    [InlineData(new[] { "lab", "up", "--tier1", "two" }, "--tier1 'two' is not a whole number")]
    [InlineData(new[] { "lab", "up", "--leaves=-1" }, "--leaves '-1' is not a whole number")]
    [InlineData(new[] { "lab", "up", "--tier1", "0" }, "--tier1 0: must be from 1 to 89")]
    [InlineData(new[] { "lab", "up", "--backup", "--leaves", "12" }, "--leaves 12: must be from 0 to 9 with --backup")]
    [InlineData(new[] { "lab", "up", "--timeout", "0" }, "--timeout '0' is not a positive number of seconds")]
    [InlineData(new[] { "lab", "up", "--nodes", "3" }, "unknown option --nodes")]
    [InlineData(new[] { "lab", "status", "--wait" }, "unknown option --wait")]
    [InlineData(new[] { "lab", "down", "extra" }, "unexpected argument 'extra'")]
    [InlineData(new[] { "lab", "up", "--dir", "/tmp/a lab" }, "--dir '/tmp/a lab': use letters, digits")]
    public async Task Bad_arguments_are_usage_errors_that_name_the_argument(string[] args, string expected)
    {
        var (code, _, err) = await Run([.. args.Select(a => a == "/tmp/a lab" ? Path.Combine(_parent, "a lab") : a)]);

        Assert.Equal(2, code);
        Assert.Contains(expected.Replace("/tmp/a lab", Path.Combine(_parent, "a lab"), StringComparison.Ordinal), err, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_parent));
    }

    [Fact]
    public async Task An_image_without_initrd_is_refused_before_anything_is_made()
    {
        var image = Directory.CreateDirectory(Path.Combine(_parent, "image")).FullName;
        await File.WriteAllTextAsync(Path.Combine(image, "vmlinuz"), "not really a kernel");
        var name = LabPlan.NameOf(Dir);

        var (code, _, err) = await Run("lab", "up", "--dir", Dir, "--image", image);

        Assert.Equal(2, code);
        Assert.Contains($"--image {image}: no initrd.img in it", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Dir));
        Assert.False(File.Exists($"/var/run/netns/{name}-root"));
        Assert.False(File.Exists($"/var/run/netns/{name}-net"));

        (code, _, err) = await Run("lab", "up", "--dir", Dir, "--image", Path.Combine(_parent, "nowhere"));
        Assert.Equal(2, code);
        Assert.Contains("no such directory", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Dir));
    }

    [Fact]
    public async Task Status_without_a_lab_fails_and_down_without_a_lab_has_nothing_to_do()
    {
        var (code, _, err) = await Run("lab", "status", "--dir", Dir);
        Assert.Equal(1, code);
        Assert.Contains($"no lab is recorded in {Dir}", err, StringComparison.Ordinal);

        (code, var output, _) = await Run("lab", "down", "--dir", Dir);
        Assert.Equal(0, code);
        Assert.Contains("nothing to remove", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Dir));
    }

    [Fact]
    public async Task Up_refuses_a_directory_holding_files_of_an_unrecorded_lab()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "vm"));

        var (code, _, err) = await Run("lab", "up", "--dir", Dir, "--image", _parent);

        Assert.Equal(1, code);
        Assert.Contains($"{Path.Combine(Dir, "vm")} exists but no lab is recorded in {Dir}", err, StringComparison.Ordinal);
        Assert.Equal([Path.Combine(Dir, "vm")], Directory.EnumerateFileSystemEntries(Dir));
    }

    [Fact]
    public void A_udp_socket_is_seen_bound_in_a_process_namespace_only_on_its_own_address_and_port()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;

        Assert.True(LabNet.IsUdpBound(Environment.ProcessId, "127.0.0.1", port));
        Assert.False(LabNet.IsUdpBound(Environment.ProcessId, "127.0.0.2", port));
        Assert.False(LabNet.IsUdpBound(Environment.ProcessId, "127.0.0.1", port == 65535 ? 65534 : port + 1));
    }

    [Theory]
    [InlineData("198.18.255.1", 30, "198.18.255.2", 30, true)]
    [InlineData("198.18.255.1", 30, "198.18.255.5", 30, false)]
    [InlineData("198.18.255.1", 30, "198.18.0.1", 15, true)]
    [InlineData("198.18.255.1", 30, "10.0.0.1", 8, false)]
    [InlineData("198.18.255.1", 30, "0.0.0.0", 0, true)]
    public void Networks_overlap_when_they_agree_on_the_shorter_prefix(string a, int aPrefix, string b, int bPrefix, bool overlap) =>
        Assert.Equal(overlap, LabNet.Overlaps(IPAddress.Parse(a), aPrefix, IPAddress.Parse(b), bPrefix));
}
