// Durable Cfg: WAL whose log the store syncs itself, loaded at start with versions, every API write on disk before the answer.
using System.Net;
using System.Text;
using Kraken.Daemon.Storage;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Daemon.Tests.Storage;

public sealed class DurableCfgTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-durable-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_database_runs_in_wal_mode_and_leaves_syncing_the_log_to_the_store()
    {
        using var db = new CfgDatabase(Path.Combine(_dir, "cfg.db"));
        Assert.Equal("wal", db.JournalMode);
        Assert.Equal(1, db.Synchronous);
    }

    [Fact]
    public async Task A_write_is_durable_when_its_wait_completes_and_reloads_with_its_version()
    {
        var path = Path.Combine(_dir, "cfg.db");
        var id = NodeId.Parse("00000000-0000-4000-8000-0000000000a1", null);
        var store = new StateStore();
        var durable = new DurableCfg(store, new CfgDatabase(path), NullLogger.Instance);
        store.Create(NodeRecord.Empty(id).With("/Nodename", "a1"));
        store.Set(StateView.Cfg, id, "/PhysState", "POWER_ON");
        var cfgWrite = store.Sequence;
        store.Set(StateView.Dsc, id, "/PhysState", "POWER_OFF");

        // The Dsc change after it queues no work, so waiting for the latest sequence waits for the Cfg write only.
        await durable.WaitDurableAsync(store.Sequence).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(durable.DurableSequence >= cfgWrite);
        Assert.True(durable.DurableSequence < store.Sequence);

        // Read the file from a second connection while the first is open: the commit is there, not just in memory.
        // (A plain read-only connection: a second CfgDatabase is refused while the first owns the file.)
        using (var reader = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False"))
        {
            reader.Open();
            using var select = reader.CreateCommand();
            select.CommandText = "SELECT record FROM cfg;";
            var stored = NodeRecordCodec.FromBytes((byte[])select.ExecuteScalar()!, StateSchema.Default);
            Assert.Equal(Kraken.Tree.State.Proto.PhysState.PowerOn, stored.PhysState);
            Assert.Equal(2UL, stored.Version);
        }

        store.Delete(id);
        store.Create(NodeRecord.Empty(NodeId.Parse("00000000-0000-4000-8000-0000000000a2", null)));
        await durable.WaitDurableAsync(store.Sequence).WaitAsync(TimeSpan.FromSeconds(10));
        await durable.DisposeAsync();

        var reloaded = new StateStore();
        var again = new DurableCfg(reloaded, new CfgDatabase(path), NullLogger.Instance);
        Assert.Equal(1, again.LoadedNodes);
        Assert.False(reloaded.Contains(id));
        await again.DisposeAsync();
    }

    [Fact]
    public async Task A_root_restarted_on_its_database_has_every_acknowledged_api_write()
    {
        var d = await TestDaemon.StartRootAsync(_dir);
        var versions = new Dictionary<string, ulong>();
        foreach (var (node, value) in new[] { (TestDaemon.T1a, "POWER_ON"), (TestDaemon.N101, "POWER_OFF"), (TestDaemon.T1a, "POWER_OFF") })
        {
            var r = await d.Authorized.PatchAsync($"/api/v1/cfg/nodes/{node}", new StringContent($$"""{"/PhysState": "{{value}}"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            versions[node] = ulong.Parse(r.Headers.ETag!.Tag.Trim('"'), System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await d.Authorized.DeleteAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}")).StatusCode);
        await d.StopAsync();

        // Restart without the import: Cfg comes from the database alone.
        await using var again = await TestDaemon.StartRootAsync(_dir, import: false);
        var store = again.Daemon.Store;
        Assert.Equal(8, store.Count);
        var t1a = store.Get(StateView.Cfg, NodeId.Parse(TestDaemon.T1a, null))!;
        Assert.Equal(Kraken.Tree.State.Proto.PhysState.PowerOff, t1a.PhysState);
        Assert.Equal(versions[TestDaemon.T1a], t1a.Version);
        Assert.False(store.Contains(NodeId.Parse(TestDaemon.N101, null)));
    }
}
