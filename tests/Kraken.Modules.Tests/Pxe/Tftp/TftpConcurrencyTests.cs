// Many transfers at once: each on its own port, none waiting on another, none timing out.
namespace Kraken.Modules.Tests.Pxe.Tftp;

public sealed class TftpConcurrencyTests
{
    [Fact]
    public async Task A_thousand_concurrent_transfers_complete_without_a_timeout()
    {
        const int transfers = 1000;
        // Every client is 127.0.0.1 and all start at once: the per-address cap on transfers not yet acknowledged is
        // raised to let them (a tier's children each have their own address).
        await using var server = await TftpTestServer.StartAsync(o =>
        {
            o.Timeout = TimeSpan.FromSeconds(3);
            o.MaxUnprovenPerClient = transfers;
        });
        var small = server.AddFile("ipxe.efi", 24_000, seed: 1);
        var large = server.AddFile("kernel", 96_000, seed: 2);
        var started = 0;
        var tasks = Enumerable.Range(0, transfers).Select(i => Task.Run(async () =>
        {
            Interlocked.Increment(ref started);
            var options = (i % 3) switch
            {
                0 => new TestReadOptions { Timeout = TimeSpan.FromSeconds(5) },
                1 => new TestReadOptions { BlockSize = 1468, TransferSize = true, Timeout = TimeSpan.FromSeconds(5) },
                _ => new TestReadOptions { BlockSize = 1428, WindowSize = 8, Timeout = TimeSpan.FromSeconds(5) },
            };
            var name = i % 2 == 0 ? "ipxe.efi" : "kernel";
            var result = await TestTftpClient.ReadAsync(server.EndPoint, name, options);
            return (name, TftpTestServer.Sha256(result.Data));
        })).ToArray();
        var results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromMinutes(3));

        Assert.All(results, r => Assert.Equal(r.name == "ipxe.efi" ? small : large, r.Item2));
        await server.WaitForFinishedAsync(transfers);
        var c = server.Server.Counters;
        Assert.Equal(transfers, c.TransfersCompleted);
        Assert.Equal(0, c.TransfersFailed);
        Assert.Equal(0, c.Retransmissions);
        Assert.Equal(0, c.DroppedTotal);
        Assert.Equal(0, c.TransfersActive);
    }
}
