// Makes every Cfg change durable before anyone sees it: the store's journal commits it, one syncer fsyncs in groups.
using Kraken.Tree.State;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Storage;

/// <summary>
/// The journal of a <see cref="StateStore"/>'s Cfg view at the root. Every store transaction that changes Cfg is
/// committed to the <see cref="CfgDatabase"/> under the store's write lock, before any observer (the change stream,
/// the sync engine) sees it; a commit that fails (disk full, I/O error) refuses the transaction, so the store stays
/// as it was and the write answers 503. The next write simply tries again: nothing is sticky, nothing refused is
/// written later. Commits do not wait for the disk; one syncer thread fsyncs the log for everything committed so
/// far (group commit), then advances <see cref="DurableSequence"/>. An API write calls <see cref="WaitDurableAsync"/>
/// with the store's sequence after its write, so it answers only once its change (and everything before it) is on disk.
/// </summary>
public sealed partial class DurableCfg : IStateJournal, IAsyncDisposable
{
    private readonly StateStore _store;
    private readonly CfgDatabase _database;
    private readonly ILogger _logger;
    private readonly Lock _waitLock = new();
    private readonly List<(ulong Sequence, TaskCompletionSource Done)> _waiters = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _syncer;
    private readonly Lock _databaseLock = new();
    private ulong _durable;
    private ulong _written;
    private long _commits;
    private long _refused;
    private bool _failing;
    private const string ControlKey = "cluster-control";

    /// <summary>Loads <paramref name="database"/> into the (empty) store, then journals every later Cfg change.</summary>
    public DurableCfg(StateStore store, CfgDatabase database, ILogger logger)
    {
        _store = store;
        _database = database;
        _logger = logger;
        foreach (var record in database.LoadAll(store.Schema))
        {
            try
            {
                store.Create(record);
            }
            catch (StateException e)
            {
                // Stored before a rule it breaks existed: loading it would serve and sync it, dropping it would lose Cfg.
                throw new Hosting.DaemonConfigException(database.Path, $"holds a value this version refuses (stored before the rule): {e.Message} Stop here and run 'kraken store repair --path {database.Path}' (it keeps a copy), docs/daemon.md.");
            }

            // Restore the stored version, so children that hold a copy see later changes as newer.
            if (record.Version > 1)
            {
                store.Replace(StateView.Cfg, record, version: record.Version);
            }
        }

        LoadedNodes = store.Count;
        if (database.ReadMeta(ControlKey) is { } control && control.Split(' ') is [var version, var frozen]
            && ulong.TryParse(version, System.Globalization.CultureInfo.InvariantCulture, out var v) && bool.TryParse(frozen, out var f))
        {
            LoadedControl = new Kraken.Tree.Sync.ClusterControl(v, f);
        }

        _durable = _written = store.Sequence;
        store.Journal = this;
        _syncer = Task.Factory.StartNew(SyncLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public int LoadedNodes { get; }

    /// <summary>The database file.</summary>
    public string Path => _database.Path;

    /// <summary>The cluster's control state (freeze) as it was last saved; default when never saved.</summary>
    public Kraken.Tree.Sync.ClusterControl LoadedControl { get; }

    /// <summary>Saves the cluster's control state, so that a root restarting after a freeze is still frozen. Durable on return.</summary>
    public void SaveControl(Kraken.Tree.Sync.ClusterControl control)
    {
        try
        {
            lock (_databaseLock)
            {
                _database.WriteMeta(ControlKey, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{control.Version} {control.Frozen}"));
                _database.SyncLog();
            }
        }
        catch (Exception ex) when (ex is SqliteException or IOException)
        {
            throw Refusal(ex);
        }
    }

    /// <summary>Every Cfg change up to this store sequence is committed and synced to disk.</summary>
    public ulong DurableSequence => Volatile.Read(ref _durable);

    /// <summary>Transactions committed so far (one per store transaction that changed Cfg).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Transactions the database refused (disk full, I/O error): each left the store as it was.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    void IStateJournal.Write(StateStore store, ReadOnlySpan<StateChange> changes)
    {
        // Dsc-only transactions (most of the traffic at a root) write nothing and allocate nothing.
        HashSet<NodeId>? nodes = null;
        foreach (var c in changes)
        {
            if (c.View == StateView.Cfg)
            {
                (nodes ??= []).Add(c.Node);
            }
        }

        if (nodes is null)
        {
            return;
        }

        var upserts = new List<NodeRecord>(nodes.Count);
        var deletes = new List<NodeId>();
        foreach (var id in nodes)
        {
            // Under the store's write lock: the record as this transaction leaves it.
            if (store.Get(StateView.Cfg, id) is { } record)
            {
                upserts.Add(record);
            }
            else
            {
                deletes.Add(id);
            }
        }

        try
        {
            lock (_databaseLock)
            {
                _database.Commit(upserts, deletes);
            }
        }
        catch (Exception ex) when (ex is SqliteException or IOException)
        {
            Interlocked.Increment(ref _refused);
            var refusal = Refusal(ex);
            if (!_failing)
            {
                _failing = true;
                Log.CommitFailed(_logger, refusal.Message, ex);
            }

            throw refusal;
        }

        if (_failing)
        {
            _failing = false;
            Log.CommitRecovered(_logger, _database.Path);
        }

        Interlocked.Increment(ref _commits);
        Volatile.Write(ref _written, changes[^1].Sequence);
        _wake.Release();
    }

    /// <summary>
    /// Completes when every Cfg change up to <paramref name="sequence"/> is on disk; faults with
    /// <see cref="StateJournalException"/> if syncing the log failed. Waits for the last Cfg transaction committed at
    /// or before that sequence.
    /// </summary>
    public Task WaitDurableAsync(ulong sequence, CancellationToken cancellationToken = default)
    {
        lock (_waitLock)
        {
            sequence = Math.Min(sequence, Volatile.Read(ref _written));
            if (_durable >= sequence)
            {
                return Task.CompletedTask;
            }

            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((sequence, tcs));
            return tcs.Task.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _store.Journal = null;
        await _closing.CancelAsync().ConfigureAwait(false);
        await _syncer.ConfigureAwait(false);

        // A write that raced the shutdown is committed (a process kill keeps it) but was not answered: fail it.
        Release(0, new ObjectDisposedException(nameof(DurableCfg), "The durable Cfg store is closed."));
        _database.Dispose();
        _wake.Dispose();
        _closing.Dispose();
    }

    private async Task SyncLoop()
    {
        var closing = false;
        while (!closing)
        {
            try
            {
                await _wake.WaitAsync(_closing.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                closing = true;
            }

            // Everything committed up to here is covered by one fsync; later wake-ups find nothing to do.
            var upTo = Volatile.Read(ref _written);
            if (upTo <= Volatile.Read(ref _durable))
            {
                continue;
            }

            try
            {
                _database.SyncLog();
            }
            catch (IOException ex)
            {
                var refusal = Refusal(ex);
                Log.SyncFailed(_logger, refusal.Message, ex);
                Release(upTo, refusal);
                continue;
            }

            Release(upTo, null);
        }
    }

    private StateJournalException Refusal(Exception ex) =>
        new($"the store could not commit: {(ex is SqliteException s ? CfgDatabase.Describe(s) : ex.Message)} at {_database.Path}", ex);

    /// <summary>Success advances the durable sequence to <paramref name="upTo"/>; a failure fails the waiters it covers.</summary>
    private void Release(ulong upTo, Exception? failure)
    {
        lock (_waitLock)
        {
            if (failure is null && upTo > _durable)
            {
                _durable = upTo;
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var (seq, done) = _waiters[i];
                if (seq <= _durable)
                {
                    done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
                else if (failure is not null && (upTo == 0 || seq <= upTo))
                {
                    done.TrySetException(failure as StateJournalException ?? new StateJournalException("the durable Cfg store is closed; the write was not acknowledged", failure));
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Critical, Message = "Cfg writes are refused: {Cause}; the store keeps what was acknowledged and retries with the next write")]
        public static partial void CommitFailed(ILogger logger, string cause, Exception exception);

        [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "The durable Cfg store {Path} commits again")]
        public static partial void CommitRecovered(ILogger logger, string path);

        [LoggerMessage(EventId = 302, Level = LogLevel.Critical, Message = "Syncing the durable Cfg log failed: {Cause}; the writes it covered are answered 503")]
        public static partial void SyncFailed(ILogger logger, string cause, Exception exception);
    }
}
