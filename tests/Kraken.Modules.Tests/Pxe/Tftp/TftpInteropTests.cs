// Real TFTP clients we did not write fetch files from our server on loopback; the bytes must be identical.
namespace Kraken.Modules.Tests.Pxe.Tftp;

[Trait("Category", "Interop")]
public sealed class TftpInteropTests
{
    private const string Host = "127.0.0.1";

    [Theory]
    [InlineData("tftp-hpa", null, null)]
    [InlineData("curl", null, null)]
    [InlineData("curl", 1468, null)]
    [InlineData("curl", 8192, null)]
    [InlineData("busybox", null, null)]
    [InlineData("busybox", 1428, null)]
    [InlineData("busybox", 65464, null)]
    [InlineData("atftp", null, null)]
    [InlineData("atftp", 1428, null)]
    [InlineData("atftp", 1428, 16)]
    [InlineData("atftp", 8192, 16)]
    [InlineData("atftp", 512, 4)]
    public async Task Client_fetches_a_file_byte_identical(string client, int? blockSize, int? windowSize)
    {
        await using var server = await TftpTestServer.StartAsync();
        var sha = server.AddFile("boot/vmlinuz", (3 << 20) + 777, seed: 7);
        var local = Path.Combine(server.Root, "..", Path.GetFileName(server.Root) + ".out");
        try
        {
            var (exit, output) = await Run(client, server.Port, "boot/vmlinuz", local, blockSize, windowSize);
            Assert.True(exit == 0, $"{client} failed ({exit}): {output}");
            Assert.Equal(sha, TftpTestServer.Sha256(local));
            await server.WaitForFinishedAsync(1);
            Assert.Equal(1, server.Server.Counters.TransfersCompleted);
            Assert.Equal((3 << 20) + 777, server.Server.Counters.BytesSent);

            // On loopback (MTU 64 KiB) every window of several blocks leaves in segmented sends, none refused.
            Assert.Equal(windowSize is > 1, server.Server.Counters.SegmentedSends > 0);
            Assert.Equal(0, server.Server.Counters.SegmentationFallbacks);
            // The window is lowered to fit the default 96 KiB burst: 8192 x 16 becomes 8192 x 12.
            var block = blockSize ?? 512;
            var negotiated = $"blksize {block}, windowsize {Math.Min(windowSize ?? 1, 96 * 1024 / block)}.";
            Assert.True(server.Log.Contains(negotiated), $"expected '{negotiated}' in: {string.Join(" | ", server.Log.Lines)}");
        }
        finally
        {
            File.Delete(local);
        }
    }

    [Fact]
    public async Task Pxe_style_leading_slash_and_empty_and_exact_multiple_files()
    {
        await using var server = await TftpTestServer.StartAsync();
        var empty = server.AddFile("empty.bin", 0);
        var exact = server.AddFile("exact.bin", 512 * 40, seed: 3);
        var local = Path.Combine(server.Root, "..", Path.GetFileName(server.Root) + ".out");
        try
        {
            foreach (var (name, sha) in new[] { ("/empty.bin", empty), ("/exact.bin", exact) })
            {
                var (exit, output) = await TftpTools.RunAsync("tftp", TftpTools.TftpHpa(Host, server.Port, name, local));
                Assert.True(exit == 0 && !output.Contains("Error", StringComparison.OrdinalIgnoreCase), output);
                Assert.Equal(sha, TftpTestServer.Sha256(local));
            }
        }
        finally
        {
            File.Delete(local);
        }
    }

    [Fact]
    public async Task Netascii_converts_line_ends_and_tftp_hpa_restores_them()
    {
        await using var server = await TftpTestServer.StartAsync();
        // Line ends at every offset around block boundaries, and bare CRs.
        var text = string.Concat(Enumerable.Range(0, 400).Select(i => new string('x', i % 37) + (i % 5 == 0 ? "\r" : "") + "\n"));
        File.WriteAllText(Path.Combine(server.Root, "pxelinux.cfg"), text);
        var local = Path.Combine(server.Root, "..", Path.GetFileName(server.Root) + ".out");
        try
        {
            var (exit, output) = await TftpTools.RunAsync("tftp", TftpTools.TftpHpa(Host, server.Port, "pxelinux.cfg", local, "ascii"));
            Assert.True(exit == 0, output);
            Assert.Equal(text, File.ReadAllText(local));
        }
        finally
        {
            File.Delete(local);
        }

        // On the wire: LF became CR LF and a bare CR became CR NUL.
        var wire = await TestTftpClient.ReadAsync(server.EndPoint, "pxelinux.cfg", new TestReadOptions { Mode = "netascii" });
        var expected = System.Text.Encoding.ASCII.GetBytes(text.Replace("\r", "\r\0", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal));
        Assert.Equal(expected, wire.Data);
    }

    [Fact]
    public async Task Block_numbers_roll_over_past_65535_for_tftp_hpa_and_windowed_atftp()
    {
        // The one test with a file over 32 MiB: every wrap case shares it.
        await using var server = await TftpTestServer.StartAsync(o => o.Timeout = TimeSpan.FromMilliseconds(200));
        const long size = (65536L * 512) + 100_000;   // 65,731 blocks of 512 bytes: wraps to block 0 and on
        var sha = server.AddFile("big.img", size, seed: 11);
        var local = Path.Combine(server.Root, "..", Path.GetFileName(server.Root) + ".out");
        try
        {
            // Lockstep, then windows of 7 (so a window straddles the wrap: 65535, 0, 1, ...).
            var (exit, output) = await TftpTools.RunAsync("tftp", TftpTools.TftpHpa(Host, server.Port, "big.img", local), TimeSpan.FromSeconds(180));
            Assert.True(exit == 0, output);
            Assert.Equal(sha, TftpTestServer.Sha256(local));
            File.Delete(local);
            (exit, output) = await TftpTools.RunAsync("atftp", TftpTools.Atftp(Host, server.Port, "big.img", local, "blksize 512", "windowsize 7"), TimeSpan.FromSeconds(180));
            Assert.True(exit == 0, output);
            Assert.Equal(sha, TftpTestServer.Sha256(local));

            // Losses in windows around the wrap (block 65536 travels as number 0) are recovered.
            var lossy = await TestTftpClient.ReadAsync(server.EndPoint, "big.img", new TestReadOptions
            {
                BlockSize = 512,
                WindowSize = 8,
                Lose = (block, attempt) => (block is 65533 or 65536 && attempt == 1) || (block == 65538 && attempt <= 2),
            });
            Assert.Equal(sha, TftpTestServer.Sha256(lossy.Data));
            await server.WaitForFinishedAsync(3);
            Assert.Equal(3, server.Server.Counters.TransfersCompleted);
            Assert.Equal(3 * size, server.Server.Counters.BytesSent);
            Assert.True(server.Server.Counters.BlocksSent > 3 * 65536);
            Assert.True(server.Server.Counters.Retransmissions > 0);
        }
        finally
        {
            File.Delete(local);
        }
    }

    [Fact]
    public async Task Tsize_is_answered_and_unknown_options_are_not()
    {
        await using var server = await TftpTestServer.StartAsync(o => o.MaxBlockSize = 1468);
        server.AddFile("f", 10_000);
        var result = await TestTftpClient.ReadAsync(server.EndPoint, "f", new TestReadOptions { BlockSize = 9000, TransferSize = true });
        Assert.Equal("10000", result.Oack["tsize"]);
        Assert.Equal("1468", result.Oack["blksize"]);     // capped by MaxBlockSize
        Assert.False(result.Oack.ContainsKey("windowsize"));
        Assert.Equal(10_000, result.Data.Length);
    }

    internal static Task<(int ExitCode, string Output)> Run(string client, int port, string remote, string local, int? blockSize, int? windowSize, string host = Host) => client switch
    {
        "tftp-hpa" => TftpTools.RunAsync("tftp", TftpTools.TftpHpa(host, port, remote, local)),
        "curl" => TftpTools.RunAsync("curl", TftpTools.Curl(host, port, remote, local, blockSize)),
        "busybox" => TftpTools.RunAsync("busybox", TftpTools.Busybox(host, port, remote, local, blockSize)),
        "atftp" => TftpTools.RunAsync("atftp", TftpTools.Atftp(host, port, remote, local, AtftpOptions(blockSize, windowSize))),
        _ => throw new ArgumentOutOfRangeException(nameof(client)),
    };

    private static string[] AtftpOptions(int? blockSize, int? windowSize)
    {
        var list = new List<string>();
        if (blockSize is { } b)
        {
            list.Add("blksize " + TftpTools.Text(b));
        }

        if (windowSize is { } w)
        {
            list.Add("windowsize " + TftpTools.Text(w));
        }

        return [.. list];
    }
}
