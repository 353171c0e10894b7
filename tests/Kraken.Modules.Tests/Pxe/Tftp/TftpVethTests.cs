// Real clients in a network namespace fetch over a veth pair (MTU 1500: large blocks travel as IP fragments).
using System.Net;

namespace Kraken.Modules.Tests.Pxe.Tftp;

[Trait("Category", "Network")]
[Trait("Category", "Interop")]
public sealed class TftpVethTests
{
    [Theory]
    [InlineData("atftp", 8192, 16)]
    [InlineData("atftp", 1428, 16)]
    [InlineData("busybox", 8192, null)]
    [InlineData("curl", 1468, null)]
    public async Task Client_in_a_namespace_fetches_over_veth(string client, int? blockSize, int? windowSize)
    {
        await using var ns = await VethNamespace.CreateAsync();
        await using var server = await TftpTestServer.StartAsync(address: ns.HostAddress);
        const long size = (8L << 20) + 12345;
        var sha = server.AddFile("initrd.img", size, seed: 21);
        var local = Path.Combine(server.Root, "..", Path.GetFileName(server.Root) + ".out");
        try
        {
            var host = ns.HostAddress.ToString();
            var args = client switch
            {
                "atftp" => TftpTools.Atftp(host, server.Port, "initrd.img", local, [$"blksize {blockSize}", $"windowsize {windowSize}"]),
                "busybox" => TftpTools.Busybox(host, server.Port, "initrd.img", local, blockSize),
                _ => TftpTools.Curl(host, server.Port, "initrd.img", local, blockSize),
            };
            var started = DateTime.UtcNow;
            var (exit, output) = await ns.RunAsync(client, args, TimeSpan.FromSeconds(90));
            var elapsed = DateTime.UtcNow - started;
            Assert.True(exit == 0, $"{client} failed ({exit}): {output}");
            Assert.Equal(sha, TftpTestServer.Sha256(local));
            await server.WaitForFinishedAsync(1);
            var c = server.Server.Counters;
            Assert.Equal(1, c.TransfersCompleted);
            Assert.Equal(size, c.BytesSent);

            // No stall: a stalled window costs a 1 s timeout each time; a handful is tolerated on a loaded machine.
            Assert.True(c.Retransmissions < 50, $"{c.Retransmissions} retransmissions in {elapsed}");
            Assert.True(elapsed < TimeSpan.FromSeconds(60), $"took {elapsed}");

            // Windows go out as one segmented (GSO) send when a block fits the 1500-byte MTU whole; 8 KiB blocks
            // cannot be segmented (the kernel refuses a segment above the MTU): one fallback, per-block sends.
            if (windowSize is > 1 && blockSize + 4 + 28 <= 1500)
            {
                Assert.True(c.SegmentedSends > 0, "no segmented send");
                Assert.Equal(0, c.SegmentationFallbacks);
            }
            else if (windowSize is > 1)
            {
                Assert.Equal(0, c.SegmentedSends);
                Assert.Equal(1, c.SegmentationFallbacks);
            }
            else
            {
                Assert.Equal(0, c.SegmentedSends);
            }
        }
        finally
        {
            File.Delete(local);
        }
    }

    [Fact]
    public async Task Namespace_address_is_not_the_loopback()
    {
        await using var ns = await VethNamespace.CreateAsync();
        Assert.False(IPAddress.IsLoopback(ns.HostAddress));
        var (exit, output) = await ns.RunAsync("ip", ["-4", "addr", "show"]);
        Assert.Equal(0, exit);
        Assert.Contains(ns.NamespaceAddress.ToString(), output, StringComparison.Ordinal);
    }
}
