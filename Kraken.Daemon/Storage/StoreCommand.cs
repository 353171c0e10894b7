// "kraken store check|repair|rebuild": offline checks of the root's durable Cfg database, clearing values a newer
// version refuses, and rebuilding one from exports.
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Microsoft.Data.Sqlite;

namespace Kraken.Daemon.Storage;

/// <summary>
/// <c>kraken store check (--path FILE | --config FILE)</c> checks a Cfg database without a daemon: SQLite's integrity
/// check, the tables, and that every row decodes to the node and version it is stored under; exit 0 when healthy,
/// 1 listing what is wrong. <c>kraken store repair (--path FILE | --config FILE) [--dry-run]</c> clears the values that
/// break a value rule (stored before the rule existed), after keeping a copy of the database. <c>kraken store rebuild --path FILE [--root ID] --from EXPORT...</c> writes a new database from state
/// files (<c>kraken export</c> of the root, or of children, which hold their subtree's Cfg), docs/daemon.md.
/// </summary>
internal static class StoreCommand
{
    /// <summary>Lines of SQLite's integrity report shown at most.</summary>
    private const int MaxReported = 20;

    public static async Task<int> RunAsync(Arguments parsed, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            switch (parsed.Positional)
            {
                case [_, "check"]:
                    return await CheckAsync(StorePath(parsed).Path, stdout, stderr).ConfigureAwait(false);
                case [_, "repair"]:
                    return await RepairAsync(StorePath(parsed).Path, parsed.Flag("--dry-run"), stdout, stderr).ConfigureAwait(false);
                case [_, "rebuild"]:
                    var (path, configured) = StorePath(parsed);
                    var rootText = parsed.Option("--root") ?? configured;
                    NodeId root = NodeId.DefaultRoot;
                    if (rootText is not null && !NodeId.TryParse(rootText, null, out root))
                    {
                        throw new CliException($"--root '{rootText}' is not a node id", 2);
                    }

                    return await RebuildAsync(path, root, parsed.Options("--from"), stdout, stderr).ConfigureAwait(false);
                default:
                    throw new CliException($"'{string.Join(' ', parsed.Positional)}' is not a verb; use store check, store repair or store rebuild", 2);
            }
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync($"kraken store: {ex.Message}").ConfigureAwait(false);
            if (ex.ExitCode == 2)
            {
                await stderr.WriteLineAsync("run 'kraken store --help' for usage").ConfigureAwait(false);
            }

            return ex.ExitCode;
        }
    }

    /// <summary>What is wrong with the database at <paramref name="path"/> (empty when healthy), and how many nodes it holds.</summary>
    public static (int Nodes, List<string> Problems) Check(string path, StateSchema schema)
    {
        var problems = new List<string>();
        if (!File.Exists(path))
        {
            problems.Add("no such file");
            return (0, problems);
        }

        var nodes = 0;
        try
        {
            // ReadWrite without Create: a check never makes a database where there was none.
            var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "PRAGMA integrity_check;";
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    var line = reader.GetString(0);
                    if (line != "ok" && problems.Count < MaxReported)
                    {
                        problems.Add("integrity: " + line);
                    }
                }
            }

            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('cfg', 'meta');";
                using var reader = cmd.ExecuteReader();
                var tables = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read())
                {
                    tables.Add(reader.GetString(0));
                }

                foreach (var missing in new[] { "cfg", "meta" }.Where(t => !tables.Contains(t)))
                {
                    problems.Add($"table '{missing}' is missing: this is not a Kraken Cfg database");
                }

                if (!tables.Contains("cfg"))
                {
                    return (0, problems);
                }
            }

            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "SELECT id, version, record FROM cfg;";
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    nodes++;
                    NodeId? id = reader[0] is byte[] { Length: 16 } idBytes ? new NodeId(idBytes) : null;
                    var name = id?.ToString() ?? $"row {nodes}";
                    try
                    {
                        var record = NodeRecordCodec.FromBytes((byte[])reader[2], schema);
                        if (id != record.Id)
                        {
                            problems.Add($"{name}: the record inside is node {record.Id}");
                        }
                        else if (reader.GetInt64(1) != (long)record.Version)
                        {
                            problems.Add($"{name}: stored as version {reader.GetInt64(1)}, the record says {record.Version}");
                        }
                        else if (!ValueRules.TryCheckRecord(record, out var url, out var error))
                        {
                            problems.Add($"{name}: {url}: {error} (stored before the rule existed; 'kraken store repair' clears it)");
                        }
                    }
                    catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or InvalidCastException or StateException or ArgumentException)
                    {
                        problems.Add($"{name}: the record does not decode: {ex.Message}");
                    }
                }
            }
        }
        catch (SqliteException ex)
        {
            problems.Add(CfgDatabase.Describe(ex));
        }

        return (nodes, problems);
    }

    private static async Task<int> CheckAsync(string path, TextWriter stdout, TextWriter stderr)
    {
        var (nodes, problems) = Check(path, StateSchema.Default);
        if (problems.Count == 0)
        {
            await stdout.WriteLineAsync($"{path}: ok ({nodes} nodes, integrity ok)").ConfigureAwait(false);
            return 0;
        }

        await stderr.WriteLineAsync($"{path}: damaged ({problems.Count} problem(s)); rebuild it as docs/daemon.md (Durable Cfg) says").ConfigureAwait(false);
        foreach (var p in problems)
        {
            await stderr.WriteLineAsync("  " + p).ConfigureAwait(false);
        }

        return 1;
    }

    /// <summary>
    /// Clears every stored value that breaks a value rule, one URL at a time until the record passes, and stores the
    /// record one version up so children take it. The database is copied first (VACUUM INTO, 0600) next to itself.
    /// </summary>
    private static async Task<int> RepairAsync(string path, bool dryRun, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"'{path}': no such file", 1);
        }

        var schema = StateSchema.Default;
        CfgDatabase database;
        try
        {
            database = new CfgDatabase(path);
        }
        catch (CfgStoreException ex)
        {
            await stderr.WriteLineAsync($"kraken store repair: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        using (database)
        {
            List<NodeRecord> records;
            try
            {
                records = database.LoadAll(schema);
            }
            catch (CfgStoreException ex)
            {
                await stderr.WriteLineAsync($"kraken store repair: {ex.Message}").ConfigureAwait(false);
                return 1;
            }

            // Staged in a store of their own, which gives each record its new version.
            var repaired = new List<NodeRecord>();
            var staging = new StateStore(schema);
            var cleared = 0;
            var unrepairable = 0;
            foreach (var record in records)
            {
                var current = record;
                var changed = false;
                var clean = true;
                while (!ValueRules.TryCheckRecord(current, out var url, out var error))
                {
                    if (!TryClear(current, schema, url!, out var next))
                    {
                        await stderr.WriteLineAsync($"  {record.Id}: {url}: {error}: cannot be cleared here; rebuild the node from an export (docs/daemon.md)").ConfigureAwait(false);
                        unrepairable++;
                        clean = false;
                        break;
                    }

                    await stdout.WriteLineAsync($"  {record.Id}: {url}: {(dryRun ? "would clear" : "cleared")} ({error})").ConfigureAwait(false);
                    current = next;
                    changed = true;
                    cleared++;
                }

                if (changed && clean)
                {
                    staging.Create(current);
                    repaired.Add(staging.Replace(StateView.Cfg, current, version: record.Version + 1));
                }
            }

            if (dryRun || repaired.Count == 0)
            {
                await stdout.WriteLineAsync(repaired.Count == 0 && unrepairable == 0
                    ? $"{path}: every value keeps the rules ({records.Count} nodes); nothing to repair"
                    : $"{path}: {cleared} value(s) in {repaired.Count} node(s) {(dryRun ? "would be cleared; nothing written (--dry-run)" : "cleared")}").ConfigureAwait(false);
                return unrepairable == 0 ? 0 : 1;
            }

            string backup;
            try
            {
                backup = database.CopyTo($"{path}.before-repair-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssZ}");
                database.Commit(repaired, []);
                database.SyncLog();
            }
            catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"kraken store repair: {path}: {(ex is SqliteException s ? CfgDatabase.Describe(s) : ex.Message)}; nothing was changed").ConfigureAwait(false);
                return 1;
            }

            await stdout.WriteLineAsync($"{path}: cleared {cleared} value(s) in {repaired.Count} node(s), each stored one version up; the database before the repair is {backup}").ConfigureAwait(false);
            return unrepairable == 0 ? 0 : 1;
        }
    }

    /// <summary>The record without the value (or map entry) at <paramref name="url"/>; false where that cannot be cleared.</summary>
    private static bool TryClear(NodeRecord record, StateSchema schema, string url, out NodeRecord cleared)
    {
        cleared = record;
        if (url == "/")
        {
            return false; // the record as a whole is too large: which value to drop is the operator's call
        }

        try
        {
            cleared = record.Edit().Set(schema.Resolve(url), StateValue.None).Build();
            return true;
        }
        catch (StateException)
        {
            return false;
        }
    }

    private static async Task<int> RebuildAsync(string path, NodeId root, IReadOnlyList<string> sources, TextWriter stdout, TextWriter stderr)
    {
        if (sources.Count == 0)
        {
            throw new CliException("store rebuild needs --from EXPORT (one or more state files)", 2);
        }

        if (File.Exists(path) || File.Exists(path + "-wal"))
        {
            throw new CliException($"'{path}' exists; move it (and its -wal and -shm) aside first, the rebuild writes a new database", 1);
        }

        // Later files win where they name the same node: give the root's export first, then the children's newer copies.
        // A child's copy names the root as its parent without holding it: start from the root's own record as a
        // root creates it (empty), which the root's export, when given, replaces.
        var store = new StateStore();
        store.Create(NodeRecord.Empty(root, store.Schema));
        foreach (var source in sources)
        {
            try
            {
                StateFileImporter.ImportFile(store, source);
            }
            catch (StateFileException ex)
            {
                await stderr.WriteLineAsync($"kraken store rebuild: {source}: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        }

        // Children keep the versions they hold and take a parent's record only when it is newer: start every node
        // above any version a node can have reached (one per change), or the rebuilt root's changes would be ignored.
        var version = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var versioned = new StateStore(store.Schema);
        foreach (var record in store.Snapshot(StateView.Cfg))
        {
            versioned.Create(record);
            versioned.Replace(StateView.Cfg, record, version: version);
        }

        var records = versioned.Snapshot(StateView.Cfg);
        try
        {
            using var database = new CfgDatabase(path);
            database.Commit(records, []);
            database.SyncLog();
        }
        catch (Exception ex) when (ex is SqliteException or IOException)
        {
            await stderr.WriteLineAsync($"kraken store rebuild: {path}: {(ex is SqliteException s ? CfgDatabase.Describe(s) : ex.Message)}").ConfigureAwait(false);
            return 1;
        }

        await stdout.WriteLineAsync($"{path}: wrote {records.Length} nodes from {sources.Count} file(s), every one at version {version}").ConfigureAwait(false);
        return 0;
    }

    /// <summary>--path FILE, or the Store:Path of the daemon configuration --config names (with its NodeId).</summary>
    private static (string Path, string? NodeId) StorePath(Arguments parsed)
    {
        if (parsed.Option("--path") is { } path)
        {
            return parsed.Option("--config") is null ? (path, null) : throw new CliException("give --path or --config, not both", 2);
        }

        var config = parsed.Option("--config") ?? throw new CliException("needs --path FILE (the Cfg database) or --config FILE (a root's configuration)", 2);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(config), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (Property(doc.RootElement, "Store") is { ValueKind: JsonValueKind.Object } store
                && Property(store, "Path") is { ValueKind: JsonValueKind.String } value
                && value.GetString() is { Length: > 0 } found && found != Hosting.DaemonOptions.MemoryStore)
            {
                return (found, Property(doc.RootElement, "NodeId") is { ValueKind: JsonValueKind.String } id ? id.GetString() : null);
            }

            throw new CliException($"--config '{config}' has no Store:Path (a database file): nothing to check", 2);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new CliException($"--config '{config}': {ex.Message}", 2);
        }
    }

    /// <summary>A property by name as configuration reads it: case-insensitive.</summary>
    private static JsonElement? Property(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var p in element.EnumerateObject())
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }
}
