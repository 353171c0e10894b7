// The root's durable Cfg: one SQLite row per node (protobuf record and version), WAL mode, commits synced by the caller.
using Kraken.Tree.State;
using Microsoft.Data.Sqlite;

namespace Kraken.Daemon.Storage;

/// <summary>
/// An embedded SQLite database holding the Cfg record of every node. WAL with <c>synchronous=NORMAL</c>: a commit
/// writes the log without waiting for the disk, so it survives a process kill; <see cref="SyncLog"/> makes every
/// commit before it survive a power loss too (one fsync shared by many commits). A whole batch of changes is one
/// transaction. Files are created 0600. Not thread-safe: one owner (<see cref="DurableCfg"/>) serializes calls.
/// </summary>
public sealed class CfgDatabase : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _delete;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _log;
    private readonly Lock _logLock = new();

    /// <summary>The database file opened without sharing (.NET takes an advisory flock): one owner at a time.</summary>
    private readonly FileStream? _owner;

    /// <summary>Owner read and write only: the database holds the whole cluster's configuration.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Opens (or creates) the database; a file that is not a usable database throws <see cref="CfgStoreException"/>.</summary>
    public CfgDatabase(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        try
        {
            // SQLite gives the -wal and -shm files the database file's mode, so creating it 0600 covers all three.
            if (!OperatingSystem.IsWindows() && !File.Exists(path))
            {
                using (new FileStream(path, new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = FileMode }))
                {
                }
            }

            Restrict(path);

            // A second daemon (or a repair) on the same file would write under the first one's feet: SQLite keeps
            // them consistent row by row, but each holds Cfg in memory that the other changes.
            try
            {
                _owner = new FileStream(path, System.IO.FileMode.Open, FileAccess.Read, FileShare.None);
            }
            catch (IOException ex) when (File.Exists(path))
            {
                throw new CfgStoreException($"'{path}' is in use by another process (a running kraken daemon, or a store repair); stop it first", ex);
            }

            var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false };
            _connection = new SqliteConnection(builder.ToString());
            _connection.Open();
            Execute("PRAGMA journal_mode=WAL;");
            Execute("CREATE TABLE IF NOT EXISTS cfg (id BLOB PRIMARY KEY, version INTEGER NOT NULL, record BLOB NOT NULL) WITHOUT ROWID;");
            Execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;");
            Execute("PRAGMA synchronous=NORMAL;");
            Restrict(path + "-wal");
            Restrict(path + "-shm");
        }
        catch (SqliteException ex)
        {
            _connection?.Dispose();
            _owner?.Dispose();
            throw new CfgStoreException($"'{path}' is not a usable Cfg database ({Describe(ex)}); check it with 'kraken store check --path {path}' and see docs/daemon.md (Durable Cfg) to rebuild it", ex);
        }
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

    /// <summary>SQLite's synchronous level: 1 is NORMAL (the log is synced by <see cref="SyncLog"/>).</summary>
    public long Synchronous => (long)Scalar("PRAGMA synchronous;")!;

    /// <summary>Every stored record, decoded with <paramref name="schema"/>; versions as stored.</summary>
    public List<NodeRecord> LoadAll(StateSchema schema)
    {
        var result = new List<NodeRecord>();
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT record FROM cfg ORDER BY id;";
        using var reader = cmd.ExecuteReader();
        try
        {
            while (reader.Read())
            {
                var bytes = (byte[])reader[0];
                result.Add(NodeRecordCodec.FromBytes(bytes, schema));
            }
        }
        catch (Exception ex) when (ex is SqliteException or Google.Protobuf.InvalidProtocolBufferException or InvalidCastException or StateException)
        {
            throw new CfgStoreException($"'{Path}' cannot be read ({(ex is SqliteException s ? Describe(s) : "a record does not decode: " + ex.Message)}); check it with 'kraken store check --path {Path}' and see docs/daemon.md (Durable Cfg) to rebuild it", ex);
        }

        return result;
    }

    /// <summary>
    /// Makes every commit so far survive a power loss: fsyncs the write-ahead log (one call covers any number of
    /// commits; SQLite itself syncs the log before a checkpoint copies it into the database).
    /// </summary>
    public void SyncLog()
    {
        // Any thread may call this (the log is one file for the connection's whole life: SQLite keeps it while open).
        var log = Volatile.Read(ref _log);
        if (log is null)
        {
            lock (_logLock)
            {
                var wal = Path + "-wal";
                if (_log is null && File.Exists(wal))
                {
                    _log = File.OpenHandle(wal, System.IO.FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                }

                log = _log;
            }
        }

        if (log is not null)
        {
            RandomAccess.FlushToDisk(log);
        }
    }

    /// <summary>What a SQLite failure means, for an operator: "disk full (SQLite: database or disk is full)".</summary>
    public static string Describe(SqliteException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        var cause = (ex.SqliteErrorCode & 0xff) switch
        {
            13 => "disk full",
            10 => "I/O error",
            8 => "read-only file or file system",
            11 or 26 => "database corrupt",
            14 => "cannot open the file",
            5 or 6 => "database locked by another process",
            _ => "SQLite error " + ex.SqliteErrorCode,
        };
        var text = SQLitePCL.raw.sqlite3_errstr(ex.SqliteErrorCode).utf8_to_string();
        return $"{cause} (SQLite: {text})";
    }

    /// <summary>Writes upserts and deletions as one transaction, committed (and synced) when this returns.</summary>
    public void Commit(IReadOnlyCollection<NodeRecord> upserts, IReadOnlyCollection<NodeId> deletes)
    {
        ArgumentNullException.ThrowIfNull(upserts);
        ArgumentNullException.ThrowIfNull(deletes);
        var tx = _connection.BeginTransaction();
        try
        {
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
            tx.Dispose();
        }
        catch (SqliteException)
        {
            // SQLite may have rolled back already (disk full does); either way nothing of it may stay, and the
            // connection must be ready for the next attempt.
            try
            {
                tx.Dispose();
            }
            catch (SqliteException)
            {
                Execute("ROLLBACK;", ignoreErrors: true);
            }

            throw;
        }
        finally
        {
            _upsert.Transaction = null;
            _delete.Transaction = null;
        }
    }

    /// <summary>
    /// Writes a consistent copy of the database to <paramref name="target"/> (created 0600; it must not exist) with
    /// SQLite's VACUUM INTO, which reads under a transaction; returns the path.
    /// </summary>
    public string CopyTo(string target)
    {
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        using (new FileStream(target, options))
        {
        }

        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "VACUUM INTO $target;";
        cmd.Parameters.AddWithValue("$target", target);
        cmd.ExecuteNonQuery();
        return target;
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
        _log?.Dispose();
        _upsert.Dispose();
        _delete.Dispose();
        _connection.Dispose();
        _owner?.Dispose();
    }

    private void Execute(string sql, bool ignoreErrors = false)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        try
        {
            cmd.ExecuteNonQuery();
        }
        catch (SqliteException) when (ignoreErrors)
        {
        }
    }

    private static void Restrict(string file)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(file) && (File.GetUnixFileMode(file) & ~FileMode) != 0)
        {
            File.SetUnixFileMode(file, FileMode);
        }
    }

    private object? Scalar(string sql)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}

/// <summary>The durable Cfg database cannot be opened or read; the message names the file and the cause.</summary>
public sealed class CfgStoreException : IOException
{
    public CfgStoreException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public CfgStoreException(string message)
        : base(message)
    {
    }

    public CfgStoreException()
    {
    }
}
