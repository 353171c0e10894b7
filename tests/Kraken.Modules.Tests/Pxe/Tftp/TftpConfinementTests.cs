// Requests that try to leave the TFTP root get an error packet and no data, from our client and real ones.
using Kraken.Modules.Pxe.Tftp;

namespace Kraken.Modules.Tests.Pxe.Tftp;

public sealed class TftpConfinementTests
{
    [Theory]
    [InlineData("../secret.txt", 2)]
    [InlineData("boot/../../secret.txt", 2)]
    [InlineData("..\\secret.txt", 2)]
    [InlineData("link-out", 2)]
    [InlineData("dir-out/secret.txt", 2)]
    [InlineData("/etc/passwd", 1)]
    [InlineData("//etc/passwd", 1)]
    [InlineData("missing.bin", 1)]
    [InlineData("boot", 2)]
    public async Task Escape_attempts_get_an_error_and_no_data(string path, int code)
    {
        var outside = SetUpEscapes(out var root);
        await using var server = await TftpTestServer.StartAsync(root: root);
        try
        {
            var e = await Assert.ThrowsAsync<TftpClientError>(() => TestTftpClient.ReadAsync(server.EndPoint, path));
            Assert.Equal(code, e.Code);
            await server.WaitForFinishedAsync(1);
            Assert.Equal(0, server.Server.Counters.BlocksSent);
            Assert.Equal(1, server.Server.Counters.TransfersFailed);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public async Task Links_inside_the_root_are_served()
    {
        await using var server = await TftpTestServer.StartAsync();
        var sha = server.AddFile("real/kernel", 5000);
        File.CreateSymbolicLink(Path.Combine(server.Root, "alias"), Path.Combine(server.Root, "real/kernel"));
        var result = await TestTftpClient.ReadAsync(server.EndPoint, "/alias");
        Assert.Equal(sha, TftpTestServer.Sha256(result.Data));
    }

    [Trait("Category", "Interop")]
    [Theory]
    [InlineData("tftp-hpa", "../secret.txt")]
    [InlineData("tftp-hpa", "link-out")]
    [InlineData("curl", "dir-out/secret.txt")]
    [InlineData("busybox", "../secret.txt")]
    [InlineData("atftp", "link-out")]
    public async Task Real_clients_get_no_data_outside_the_root(string client, string path)
    {
        var outside = SetUpEscapes(out var root);
        await using var server = await TftpTestServer.StartAsync(root: root);
        var local = Path.Combine(outside, "fetched.out");
        try
        {
            var (exit, output) = await TftpInteropTests.Run(client, server.Port, path, local, null, null);
            var got = File.Exists(local) ? File.ReadAllText(local) : "";
            Assert.DoesNotContain("TOP SECRET", got, StringComparison.Ordinal);
            Assert.True(exit != 0 || output.Contains("Error", StringComparison.OrdinalIgnoreCase), $"{client}: {exit} {output}");
            Assert.Equal(0, server.Server.Counters.BlocksSent);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Theory]
    [InlineData("pxelinux.0", "pxelinux.0")]
    [InlineData("/pxelinux.0", "pxelinux.0")]
    [InlineData("///boot/x", "boot/x")]
    [InlineData("boot\\x", "boot/x")]
    [InlineData("a/./b", "a/./b")]
    public void Normalize_strips_leading_slashes(string path, string expected) =>
        Assert.Equal(expected, DirectoryFileSource.Normalize(path));

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("..")]
    [InlineData("a/../..")]
    [InlineData("a\u0001b")]
    public void Normalize_refuses(string path) =>
        Assert.Throws<TftpAccessException>(() => DirectoryFileSource.Normalize(path));

    // OUTER/root is the TFTP root; OUTER/secret.txt sits next to it (../secret.txt); root/link-out links to it and
    // root/dir-out to OUTER itself. Returns OUTER, which the test removes.
    private static string SetUpEscapes(out string root)
    {
        var outer = TftpTestServer.NewDirectory();
        root = Path.Combine(outer, "root");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(outer, "secret.txt"), "TOP SECRET");
        File.CreateSymbolicLink(Path.Combine(root, "link-out"), Path.Combine(outer, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(root, "dir-out"), outer);
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        return outer;
    }
}
