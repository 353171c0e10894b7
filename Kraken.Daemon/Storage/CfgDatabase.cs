// The root's durable Cfg: one SQLite row per node (protobuf record and version), WAL mode, synchronous=FULL.
using Kraken.Tree.State;
using Microsoft.Data.Sqlite;

namespace Kraken.Daemon.Storage;

/// <summary>
/// An embedded SQLite database holding the Cfg record of every node. WAL with <c>synchronous=FULL</c> makes a
/// committed transaction survive a process kill and a power loss; a whole batch of changes is one transaction.
/// Not thread-safe: one writer (<see cref="DurableCfg"/>) owns it.
/// </summary>
public sealed class CfgDatabase : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _delete;

    public CfgDatabase(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false };
        _connection = new SqliteConnection(builder.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=FULL;");
        Execute("CREATE TABLE IF NOT EXISTS cfg (id BLOB PRIMARY KEY, version INTEGER NOT NULL, record BLOB NOT NULL) WITHOUT ROWID;");
        Execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;");
        _upsert = _connection.CreateCommand();
        _upsert.CommandText = "INSERT INTO cfg (id, version, record) VALUES ($id, $version, $record) ON CONFLICT(id) DO UPDATE SET version = excluded.version, record = excluded.record;";
        _upsert.Parameters.Add("$id", SqliteType.Blob);
        _upsert.Parameters.Add("$version", SqliteType.Integer);
        _upsert.Parameters.Add("$record", SqliteType.Blob);
        _delete = _connection.CreateCommand();
        _delete.CommandText = "DELETE FROM cfg WHERE id = $id;";
        _delete.Parameters.Add("$id", SqliteType.Blob);
    }

    public string Path { get; }

    /// <summary>The journal mode SQLite reports (for the start-up log and tests).</summary>
    public string JournalMode => (string)Scalar("PRAGMA journal_mode;")!;

    /// <summary>SQLite's synchronous level: 2 is FULL.</summary>
    public long Synchronous => (long)Scalar("PRAGMA synchronous;")!;

    /// <summary>Every stored record, decoded with <paramref name="schema"/>; versions as stored.</summary>
    public List<NodeRecord> LoadAll(StateSchema schema)
    {
        var result = new List<NodeRecord>();
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT record FROM cfg ORDER BY id;";
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            var bytes = (byte[])reader[0];
            result.Add(NodeRecordCodec.FromBytes(bytes, schema));
        }

        return result;
    }

    /// <summary>Writes upserts and deletions as one transaction, committed (and synced) when this returns.</summary>
    public void Commit(IReadOnlyCollection<NodeRecord> upserts, IReadOnlyCollection<NodeId> deletes)
    {
        ArgumentNullException.ThrowIfNull(upserts);
        ArgumentNullException.ThrowIfNull(deletes);
        using var tx = _connection.BeginTransaction();
        _upsert.Transaction = tx;
        _delete.Transaction = tx;
        foreach (var record in upserts)
        {
            _upsert.Parameters[0].Value = record.Id.ToByteArray();
            _upsert.Parameters[1].Value = (long)record.Version;
            _upsert.Parameters[2].Value = NodeRecordCodec.ToBytes(record);
            _upsert.ExecuteNonQuery();
        }

        foreach (var node in deletes)
        {
            _delete.Parameters[0].Value = node.ToByteArray();
            _delete.ExecuteNonQuery();
        }

        tx.Commit();
    }

    /// <summary>A value of the root's own state (the cluster's control state), or null.</summary>
    public string? ReadMeta(string key)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $key;";
        cmd.Parameters.AddWithValue("$key", key);
        return cmd.ExecuteScalar() as string;
    }

    /// <summary>Writes one value of the root's own state, committed (and synced) when this returns.</summary>
    public void WriteMeta(string key, string value)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "INSERT INTO meta (key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value;";
        cmd.Parameters.AddWithValue("$key", key);
        cmd.Parameters.AddWithValue("$value", value);
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _upsert.Dispose();
        _delete.Dispose();
        _connection.Dispose();
    }

    private void Execute(string sql)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private object? Scalar(string sql)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
