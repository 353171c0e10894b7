// Makes every Cfg change durable before it is acknowledged: a store observer queues, one writer commits in groups.
using System.Threading.Channels;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Storage;

/// <summary>
/// Mirrors the Cfg view of a <see cref="StateStore"/> into a <see cref="CfgDatabase"/>. The observer only
/// queues the ids of changed nodes (it runs under the store's write lock); a dedicated writer takes everything
/// queued so far, reads each node's current Cfg and commits it as one transaction (group commit), then
/// advances <see cref="DurableSequence"/>. An API write calls <see cref="WaitDurableAsync"/> with the store's
/// sequence after its write, so it answers only once its change (and everything before it) is on disk.
/// </summary>
public sealed partial class DurableCfg : IStateObserver, IAsyncDisposable
{
    private readonly StateStore _store;
    private readonly CfgDatabase _database;
    private readonly ILogger _logger;
    private readonly Channel<(ulong Sequence, NodeId[] Nodes)> _queue =
        Channel.CreateUnbounded<(ulong, NodeId[])>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _waitLock = new();
    private readonly List<(ulong Sequence, TaskCompletionSource Done)> _waiters = [];
    private readonly Task _writer;
    private IDisposable? _subscription;
    private ulong _durable;
    private ulong _lastQueued;
    private Exception? _failure;
    private readonly Lock _databaseLock = new();
    private const string ControlKey = "cluster-control";

    /// <summary>Loads <paramref name="database"/> into the (empty) store, then mirrors every later Cfg change.</summary>
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
                throw new Hosting.DaemonConfigException(database.Path, $"holds a value this version refuses (stored before the rule): {e.Message}");
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

        _durable = _lastQueued = store.Sequence;
        _subscription = store.Subscribe(this);
        _writer = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public int LoadedNodes { get; }

    /// <summary>The cluster's control state (freeze) as it was last saved; default when never saved.</summary>
    public Kraken.Tree.Sync.ClusterControl LoadedControl { get; }

    /// <summary>Saves the cluster's control state, so that a root restarting after a freeze is still frozen. Durable on return.</summary>
    public void SaveControl(Kraken.Tree.Sync.ClusterControl control)
    {
        lock (_databaseLock)
        {
            _database.WriteMeta(ControlKey, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{control.Version} {control.Frozen}"));
        }
    }

    /// <summary>Every Cfg change up to this store sequence is committed to disk.</summary>
    public ulong DurableSequence => Volatile.Read(ref _durable);

    /// <summary>Transactions committed so far (one per group).</summary>
    public long Commits { get; private set; }

    public void OnChanges(ReadOnlySpan<StateChange> changes)
    {
        // Dsc-only commits (most of the traffic at a root) queue nothing and allocate nothing.
        List<NodeId>? nodes = null;
        foreach (var c in changes)
        {
            if (c.View == StateView.Cfg && (nodes is null || nodes[^1] != c.Node))
            {
                (nodes ??= []).Add(c.Node);
            }
        }

        if (nodes is not null)
        {
            var sequence = changes[^1].Sequence;
            _queue.Writer.TryWrite((sequence, [.. nodes]));
            Volatile.Write(ref _lastQueued, sequence);
        }
    }

    /// <summary>
    /// Completes when every Cfg change up to <paramref name="sequence"/> is on disk; faults if the store failed.
    /// Cfg batches commit in order, so it waits for the last Cfg batch queued at or before that sequence.
    /// </summary>
    public Task WaitDurableAsync(ulong sequence, CancellationToken cancellationToken = default)
    {
        sequence = Math.Min(sequence, Volatile.Read(ref _lastQueued));
        lock (_waitLock)
        {
            if (_failure is not null)
            {
                return Task.FromException(new IOException("The durable Cfg store failed; the write is not durable.", _failure));
            }

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
        _subscription?.Dispose();
        _subscription = null;
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);

        // A write that raced the shutdown is not on disk: fail it rather than leave it waiting.
        Release(0, new ObjectDisposedException(nameof(DurableCfg), "The durable Cfg store is closed."));
        _database.Dispose();
    }

    private async Task WriteLoop()
    {
        var reader = _queue.Reader;
        var dirty = new HashSet<NodeId>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            ulong upTo = 0;
            dirty.Clear();
            while (reader.TryRead(out var item))
            {
                upTo = item.Sequence;
                dirty.UnionWith(item.Nodes);
            }

            try
            {
                if (dirty.Count > 0)
                {
                    var upserts = new List<NodeRecord>(dirty.Count);
                    var deletes = new List<NodeId>();
                    foreach (var id in dirty)
                    {
                        // The current record, not the one of the change: the newest state is what must survive.
                        if (_store.Get(StateView.Cfg, id) is { } record)
                        {
                            upserts.Add(record);
                        }
                        else
                        {
                            deletes.Add(id);
                        }
                    }

                    lock (_databaseLock)
                    {
                        _database.Commit(upserts, deletes);
                    }

                    Commits++;
                }
            }
            catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
            {
                Log.CommitFailed(_logger, ex);
                Release(upTo, ex);
                continue;
            }

            Release(upTo, null);
        }
    }

    private void Release(ulong upTo, Exception? failure)
    {
        lock (_waitLock)
        {
            if (failure is not null)
            {
                _failure = failure;
            }
            else if (upTo > _durable)
            {
                _durable = upTo;
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var (seq, done) = _waiters[i];
                if (_failure is not null)
                {
                    done.TrySetException(new IOException("The durable Cfg store failed; the write is not durable.", _failure));
                    _waiters.RemoveAt(i);
                }
                else if (seq <= _durable)
                {
                    done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Critical, Message = "Committing Cfg to the durable store failed; writes are no longer acknowledged")]
        public static partial void CommitFailed(ILogger logger, Exception exception);
    }
}
