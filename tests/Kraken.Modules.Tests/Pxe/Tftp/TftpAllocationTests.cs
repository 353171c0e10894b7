// The per-block path allocates nothing: a long transfer costs the same heap as a short one.
namespace Kraken.Modules.Tests.Pxe.Tftp;

[CollectionDefinition(nameof(TftpAllocationTests), DisableParallelization = true)]
public sealed class TftpAllocationCollection
{
}

[Collection(nameof(TftpAllocationTests))]
[Trait("Category", "Interop")]
public sealed class TftpAllocationTests
{
    [Theory]
    [InlineData(null, null)]
    [InlineData(1428, 16)]
    public async Task Blocks_are_sent_without_allocating(int? blockSize, int? windowSize)
    {
        await using var server = await TftpTestServer.StartAsync();
        server.AddFile("short.bin", 64 * 1024, seed: 1);
        server.AddFile("long.bin", 8L << 20, seed: 2);
        var local = Path.Combine(server.Root, "..", Path.GetFileName(server.Root) + ".out");
        try
        {
            // Warm up (JIT, pools), then measure a short and a long transfer; the difference is the per-block cost.
            await Fetch("short.bin");
            var shortBytes = await Fetch("short.bin");
            var longBytes = await Fetch("long.bin");
            var blocks = (8L << 20) / (blockSize ?? 512);
            var perBlock = (double)(longBytes - shortBytes) / blocks;
            // Any object allocated per block or per window would cost 24 bytes or more; the few bytes left are
            // the runtime's own (the socket engine's event queue grows a segment now and then).
            Assert.True(perBlock < 8, $"{perBlock:F2} bytes allocated per block (short {shortBytes}, long {longBytes})");
        }
        finally
        {
            File.Delete(local);
        }

        async Task<long> Fetch(string name)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var done = server.Server.Counters.TransfersCompleted;
            var (exit, output) = await TftpInteropTests.Run("atftp", server.Port, name, local, blockSize, windowSize);
            Assert.True(exit == 0, output);
            await server.WaitForFinishedAsync(done + 1);
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }
    }
}
