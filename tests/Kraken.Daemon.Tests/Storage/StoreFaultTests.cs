// Durable store faults: a full disk refuses writes with 503 and leaves memory as it was, a corrupt database stops
// start-up with exit 1, files are 0600, and "kraken store check|repair|rebuild" on good and damaged files.
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Kraken.Daemon.Storage;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Daemon.Tests.Storage;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class StoreFaultTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-store-fault-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    [Trait("Category", "Network")]
    public async Task A_full_disk_refuses_writes_with_503_leaves_memory_as_it_was_and_recovers_when_space_returns()
    {
        // A file system of our own, small enough to fill: a tmpfs mounted on a temporary directory (root only).
        var mount = Path.Combine(_dir, "fs");
        Directory.CreateDirectory(mount);
        Run("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mount);
        try
        {
            var filler = Path.Combine(mount, "filler");
            var d = await TestDaemon.StartRootAsync(mount);
            try
            {
                var feed = d.Daemon.Store.Watch(c => c.View == StateView.Cfg);
                Assert.Equal(HttpStatusCode.OK, (await Patch(d, TestDaemon.T1a, "POWER_ON")).StatusCode);
                while (feed.TryRead(out _))
                {
                }

                Fill(filler);
                var sequence = d.Daemon.Store.Sequence;

                // Refused: 503 naming the cause and the file; not visible, not in the change stream the sync engine reads.
                var refused = await Patch(d, TestDaemon.T1a, "POWER_OFF");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                using (var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()))
                {
                    var detail = problem.RootElement.GetProperty("detail").GetString()!;
                    Assert.Contains("disk full", detail, StringComparison.Ordinal);
                    Assert.Contains(Path.Combine(mount, "cfg.db"), detail, StringComparison.Ordinal);
                }

                var created = await d.Authorized.PostAsync("/api/v1/cfg/nodes", Json($$"""{"id": "00000000-0000-4000-8000-00000000f001", "nodename": "full1", "parentId": "{{TestDaemon.T1a}}"}"""));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, created.StatusCode);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, (await d.Authorized.DeleteAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}")).StatusCode);
                Assert.Equal("POWER_ON", await PhysState(d, TestDaemon.T1a));
                Assert.Equal(HttpStatusCode.NotFound, (await d.Http.GetAsync("/api/v1/cfg/nodes/00000000-0000-4000-8000-00000000f001")).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await d.Http.GetAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}")).StatusCode);
                Assert.Equal(sequence, d.Daemon.Store.Sequence);
                Assert.False(feed.TryRead(out var seen), $"the change stream saw a refused write: {seen}");
                Assert.True(d.Daemon.Durable!.Refused >= 3);

                // Space back: the next write commits, with no step of its own to clear a failure.
                File.Delete(filler);
                Assert.Equal(HttpStatusCode.OK, (await Patch(d, TestDaemon.N101, "POWER_ON")).StatusCode);
                Assert.Equal("POWER_ON", await PhysState(d, TestDaemon.T1a));
                created = await d.Authorized.PostAsync("/api/v1/cfg/nodes", Json($$"""{"id": "00000000-0000-4000-8000-00000000f002", "nodename": "after", "parentId": "{{TestDaemon.T1a}}"}"""));
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                Assert.True(feed.TryRead(out _));
            }
            finally
            {
                await d.DisposeAsync();
            }

            // Restart on the same file: everything acknowledged is there, nothing refused came in as a side effect.
            await using var again = await TestDaemon.StartRootAsync(mount, import: false);
            Assert.Equal("POWER_ON", await PhysState(again, TestDaemon.T1a));
            Assert.Equal("POWER_ON", await PhysState(again, TestDaemon.N101));
            Assert.Equal(HttpStatusCode.OK, (await again.Http.GetAsync("/api/v1/cfg/nodes/00000000-0000-4000-8000-00000000f002")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await again.Http.GetAsync("/api/v1/cfg/nodes/00000000-0000-4000-8000-00000000f001")).StatusCode);
        }
        finally
        {
            Run("umount", "-l", mount);
        }
    }

    [Fact]
    public async Task A_refused_commit_leaves_the_store_and_the_database_as_they_were_and_the_next_one_commits()
    {
        var path = Path.Combine(_dir, "cfg.db");
        var id = NodeId.Parse("00000000-0000-4000-8000-0000000000b1", null);
        var store = new StateStore();
        var durable = new DurableCfg(store, new CfgDatabase(path), NullLogger.Instance);
        try
        {
            store.Create(NodeRecord.Empty(id).With("/Nodename", "b1"));

            // The store's own refusal path, with a journal that fails in front of the database one.
            var failing = new FailingJournal(store.Journal!);
            store.Journal = failing;
            failing.Fail = true;
            var before = store.Sequence;
            var ex = Assert.Throws<StateJournalException>(() => store.Batch(s =>
            {
                s.Set(StateView.Cfg, id, "/PhysState", "POWER_ON");
                s.Create(NodeRecord.Empty(NodeId.Parse("00000000-0000-4000-8000-0000000000b2", null)));
                s.Delete(id);
            }));
            Assert.Contains("injected", ex.Message, StringComparison.Ordinal);
            Assert.Equal(before, store.Sequence);
            Assert.True(store.Contains(id));
            Assert.False(store.Contains(NodeId.Parse("00000000-0000-4000-8000-0000000000b2", null)));
            Assert.Null(store.Get(StateView.Cfg, id)!.PhysState);
            Assert.Equal(1UL, store.Get(StateView.Cfg, id)!.Version);

            failing.Fail = false;
            store.Set(StateView.Cfg, id, "/Arch", "x86_64");
        }
        finally
        {
            await durable.DisposeAsync();
        }

        // Only what was accepted reached the file: the refused PhysState is not there as a side effect.
        using var reader = new CfgDatabase(path);
        var stored = Assert.Single(reader.LoadAll(StateSchema.Default));
        Assert.Null(stored.PhysState);
        Assert.Equal("x86_64", stored.Arch);
        Assert.Equal(2UL, stored.Version);
    }

    [Fact]
    public async Task A_corrupt_database_stops_the_daemon_with_exit_1_naming_the_file()
    {
        var path = Path.Combine(_dir, "cfg.db");
        File.WriteAllBytes(path, Enumerable.Range(0, 16384).Select(i => (byte)(i * 7 + 3)).ToArray());
        var (exit, _, stderr) = await RunKraken(
            "serve", $"--NodeId={TestDaemon.RootId}", "--Api:Url=http://127.0.0.1:0", $"--Api:Token={TestDaemon.Token}",
            "--Sync:Bind=127.0.0.1:0", $"--Sync:JoinSecret={TestDaemon.Secret}", $"--Store:Path={path}");
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        Assert.Contains(path, stderr, StringComparison.Ordinal);
        Assert.Contains("database corrupt", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_database_and_its_log_files_are_created_0600_and_an_open_one_is_tightened()
    {
        var path = Path.Combine(_dir, "cfg.db");
        var store = new StateStore();
        var durable = new DurableCfg(store, new CfgDatabase(path), NullLogger.Instance);
        store.Create(NodeRecord.Empty(NodeId.Parse("00000000-0000-4000-8000-0000000000c1", null)));
        await durable.WaitDurableAsync(store.Sequence);
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            Assert.True(File.Exists(file), file);
            Assert.Equal(Private, File.GetUnixFileMode(file));
        }

        await durable.DisposeAsync();

        // A database made by an older version (0644) is tightened when opened.
        File.SetUnixFileMode(path, Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using (new CfgDatabase(path))
        {
            Assert.Equal(Private, File.GetUnixFileMode(path));
            Assert.Equal(Private, File.GetUnixFileMode(path + "-wal"));
        }
    }

    [Fact]
    public async Task Store_check_passes_a_good_database_by_path_and_by_config()
    {
        var path = Path.Combine(_dir, "cfg.db");
        var store = new StateStore();
        var durable = new DurableCfg(store, new CfgDatabase(path), NullLogger.Instance);
        Tree.StateFiles.StateFileImporter.ImportFile(store, TestDaemon.ExampleCluster);
        await durable.DisposeAsync();

        var (exit, stdout, stderr) = await RunCli("store", "check", "--path", path);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"ok ({store.Count} nodes", stdout, StringComparison.Ordinal);

        var config = Path.Combine(_dir, "root.json");
        File.WriteAllText(config, "{\"NodeId\": \"" + TestDaemon.RootId + "\", \"store\": {\"path\": \"" + path + "\"}}");
        (exit, stdout, _) = await RunCli("store", "check", "--config", config);
        Assert.Equal(0, exit);
        Assert.Contains(path, stdout, StringComparison.Ordinal);

        (exit, _, stderr) = await RunCli("store", "check");
        Assert.Equal(2, exit);
        Assert.Contains("--path", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_check_fails_a_garbage_file_a_damaged_page_and_a_missing_file()
    {
        var garbage = Path.Combine(_dir, "garbage.db");
        File.WriteAllBytes(garbage, Enumerable.Repeat((byte)0x5a, 8192).ToArray());
        var (exit, _, stderr) = await RunCli("store", "check", "--path", garbage);
        Assert.Equal(1, exit);
        Assert.Contains("database corrupt", stderr, StringComparison.Ordinal);

        // A real database with one of its pages overwritten: SQLite's integrity check or the decoding finds it.
        var damaged = Path.Combine(_dir, "damaged.db");
        var store = new StateStore();
        var durable = new DurableCfg(store, new CfgDatabase(damaged), NullLogger.Instance);
        store.Batch(s =>
        {
            for (var i = 0; i < 400; i++)
            {
                s.Create(NodeRecord.Empty(new NodeId(0x1234, (ulong)i + 1)).With("/Nodename", $"node-{i:D4}-{new string('x', 40)}"));
            }
        });
        await durable.DisposeAsync();
        using (var f = new FileStream(damaged, FileMode.Open, FileAccess.ReadWrite))
        {
            Assert.True(f.Length > 6 * 4096);
            f.Position = (4 * 4096) + 100;
            f.Write(Enumerable.Repeat((byte)0xff, 2000).ToArray());
        }

        (exit, _, stderr) = await RunCli("store", "check", "--path", damaged);
        Assert.True(exit == 1, stderr);
        Assert.Contains("damaged", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await RunCli("store", "check", "--path", Path.Combine(_dir, "none.db"));
        Assert.Equal(1, exit);
        Assert.Contains("no such file", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "none.db")));
    }

    [Fact]
    public async Task Values_stored_before_a_rule_stop_the_root_and_store_repair_clears_only_them_after_a_copy()
    {
        var path = Path.Combine(_dir, "cfg.db");
        var store = new StateStore();
        var durable = new DurableCfg(store, new CfgDatabase(path), NullLogger.Instance);
        Tree.StateFiles.StateFileImporter.ImportFile(store, TestDaemon.ExampleCluster);
        await durable.DisposeAsync();

        // Two records as an older version stored them, written past the rules: a boot-script injection in one host
        // name, a node name over 253 bytes in another record that also holds good values.
        var records = store.Snapshot(StateView.Cfg).Where(r => r.Id != NodeId.Parse(TestDaemon.RootId, null)).Take(2).ToArray();
        var injected = Unchecked(records[0], n => n.Extensions.Add(new Tree.State.Proto.Extension { Name = "IPv4", Value = new Tree.State.Proto.IPv4 { Hostname = "n1\nchain http://198.18.0.66/x" }.ToByteString() }));
        var longName = Unchecked(records[1], n => n.Nodename = new string('n', 300));
        using (var database = new CfgDatabase(path))
        {
            database.Commit([injected, longName], []);
            database.SyncLog();
        }

        // The root refuses to start, naming the file and the way out.
        var (exit, _, stderr) = await RunKraken(
            "serve", $"--NodeId={TestDaemon.RootId}", "--Api:Url=http://127.0.0.1:0", $"--Api:Token={TestDaemon.Token}",
            "--Sync:Bind=127.0.0.1:0", $"--Sync:JoinSecret={TestDaemon.Secret}", $"--Store:Path={path}");
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        Assert.Contains($"kraken store repair --path {path}", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);

        // check names both; a dry run changes nothing.
        (exit, _, stderr) = await RunCli("store", "check", "--path", path);
        Assert.Equal(1, exit);
        Assert.Contains($"{injected.Id}: /Extensions/IPv4/Hostname:", stderr, StringComparison.Ordinal);
        Assert.Contains($"{longName.Id}: /Nodename:", stderr, StringComparison.Ordinal);
        var (dryExit, dryOut, _) = await RunCli("store", "repair", "--path", path, "--dry-run");
        Assert.Equal(0, dryExit);
        Assert.Contains("would clear", dryOut, StringComparison.Ordinal);
        Assert.Equal(1, (await RunCli("store", "check", "--path", path)).Exit);
        Assert.Empty(Directory.GetFiles(_dir, "cfg.db.before-repair-*"));

        // Not while another process (a running daemon) holds the database.
        using (new CfgDatabase(path))
        {
            (exit, _, stderr) = await RunCli("store", "repair", "--path", path);
            Assert.Equal(1, exit);
            Assert.Contains("in use", stderr, StringComparison.Ordinal);
        }

        var (repairExit, repairOut, repairErr) = await RunCli("store", "repair", "--path", path);
        Assert.True(repairExit == 0, repairErr);
        Assert.Contains("cleared 2 value(s) in 2 node(s)", repairOut, StringComparison.Ordinal);
        var backup = Assert.Single(Directory.GetFiles(_dir, "cfg.db.before-repair-*"));
        Assert.Equal(Private, File.GetUnixFileMode(backup));
        Assert.Contains(backup, repairOut, StringComparison.Ordinal);
        Assert.Equal(0, (await RunCli("store", "check", "--path", path)).Exit);
        Assert.Equal(1, (await RunCli("store", "check", "--path", backup)).Exit);

        // Only the bad values went; each record is one version up, so children take it.
        var loaded = new StateStore();
        durable = new DurableCfg(loaded, new CfgDatabase(path), NullLogger.Instance);
        var fixedHost = loaded.GetRequired(StateView.Cfg, injected.Id);
        Assert.Equal(StateValue.None, fixedHost.Get("/Extensions/IPv4/Hostname"));
        Assert.Equal(injected.Version + 1, fixedHost.Version);
        var fixedName = loaded.GetRequired(StateView.Cfg, longName.Id);
        Assert.Null(fixedName.Nodename);
        Assert.Equal(records[1].Get("/PhysState"), fixedName.Get("/PhysState"));
        Assert.NotEqual(StateValue.None, fixedName.Get("/ParentId"));
        Assert.NotEqual(StateValue.None, fixedName.Get("/Extensions/IPv4/Interfaces/kraken/Ip"));
        Assert.Equal(records[1].Get("/ParentId"), fixedName.Get("/ParentId"));
        Assert.Equal(records[1].Get("/Extensions/IPv4/Interfaces/kraken/Ip"), fixedName.Get("/Extensions/IPv4/Interfaces/kraken/Ip"));
        Assert.Equal(store.Count, loaded.Count);
        await durable.DisposeAsync();

        (repairExit, repairOut, _) = await RunCli("store", "repair", "--path", path);
        Assert.Equal(0, repairExit);
        Assert.Contains("nothing to repair", repairOut, StringComparison.Ordinal);
    }

    /// <summary>The record as a version from before the rules stored it: changed in its wire form, unchecked.</summary>
    private static NodeRecord Unchecked(NodeRecord record, Action<Tree.State.Proto.Node> change)
    {
        var node = NodeRecordCodec.ToProto(record);
        change(node);
        return NodeRecordCodec.FromProto(node, record.Schema);
    }

    [Fact]
    public async Task Store_rebuild_writes_a_database_from_an_export_that_a_root_loads_with_versions_above_any_reached()
    {
        var path = Path.Combine(_dir, "rebuilt.db");
        var example = new StateStore();
        var nodes = Tree.StateFiles.StateFileImporter.ImportFile(example, TestDaemon.ExampleCluster).Created;
        var (exit, stdout, stderr) = await RunCli("store", "rebuild", "--path", path, "--from", TestDaemon.ExampleCluster);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"wrote {nodes} nodes", stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await RunCli("store", "check", "--path", path)).Exit);

        var store = new StateStore();
        var durable = new DurableCfg(store, new CfgDatabase(path), NullLogger.Instance);
        Assert.Equal(nodes, durable.LoadedNodes);
        Assert.All(store.Snapshot(StateView.Cfg), r => Assert.True(r.Version > 1_000_000_000UL, $"{r.Id} at version {r.Version}"));
        await durable.DisposeAsync();

        // It never writes over a database.
        (exit, _, stderr) = await RunCli("store", "rebuild", "--path", path, "--from", TestDaemon.ExampleCluster);
        Assert.Equal(1, exit);
        Assert.Contains("exists", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_rebuild_takes_a_childs_copy_which_names_the_root_without_holding_it()
    {
        // What a tier-1 holds and exports: itself (its parent the root), its subtree, and the backup parents its
        // subtree names (records without their subtrees); not the root's record.
        var example = new StateStore();
        Tree.StateFiles.StateFileImporter.ImportFile(example, TestDaemon.ExampleCluster);
        var t1a = NodeId.Parse(TestDaemon.T1a, null);
        var subtree = example.Snapshot(StateView.Cfg).Where(r => r.Id == t1a || r.ParentId == t1a).ToList();
        var backups = subtree.SelectMany(r => r.BackupParents).Where(b => subtree.All(r => r.Id != b)).Distinct().ToList();
        var copy = subtree.Concat(backups.Select(b => example.Get(StateView.Cfg, b)!)).ToList();
        Assert.DoesNotContain(copy, r => r.Id == NodeId.Parse(TestDaemon.RootId, null));
        Assert.True(copy.Count >= 2);
        var childExport = Path.Combine(_dir, "t1a.json");
        Tree.StateFiles.StateFileWriter.WriteFile(childExport, copy);

        var path = Path.Combine(_dir, "from-child.db");
        var (exit, stdout, stderr) = await RunCli("store", "rebuild", "--path", path, "--root", TestDaemon.RootId, "--from", childExport);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"wrote {copy.Count + 1} nodes", stdout, StringComparison.Ordinal);

        (exit, _, stderr) = await RunCli("store", "rebuild", "--path", Path.Combine(_dir, "x.db"), "--root", "not-an-id", "--from", childExport);
        Assert.Equal(2, exit);
        Assert.Contains("--root", stderr, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> Patch(TestDaemon d, string node, string value) =>
        await d.Authorized.PatchAsync($"/api/v1/cfg/nodes/{node}", Json($$"""{"/PhysState": "{{value}}"}"""));

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static async Task<string> PhysState(TestDaemon d, string node)
    {
        using var doc = JsonDocument.Parse(await d.Http.GetStringAsync($"/api/v1/cfg/nodes/{node}/values/PhysState"));
        return doc.RootElement.GetProperty("value").GetString()!;
    }

    /// <summary>Writes page-sized blocks until the file system refuses one.</summary>
    private static void Fill(string path)
    {
        var block = new byte[4096];
        using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        try
        {
            while (true)
            {
                f.Write(block);
            }
        }
        catch (IOException)
        {
            // ENOSPC: full.
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunCli(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await Kraken.Daemon.Cli.CommandLine.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunKraken(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Functional.DaemonProcess.KrakenDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw;
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {err}");
    }

    private sealed class FailingJournal(IStateJournal inner) : IStateJournal
    {
        public bool Fail { get; set; }

        public void Write(StateStore store, ReadOnlySpan<StateChange> changes)
        {
            if (Fail)
            {
                throw new IOException("injected failure");
            }

            inner.Write(store, changes);
        }
    }
}
