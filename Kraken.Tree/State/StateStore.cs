// Both views (Cfg and Dsc) of every node a daemon holds, with versions and an ordered change stream.
using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Kraken.Tree.State;

/// <summary>
/// Holds the Cfg and Dsc records of a set of nodes. Reads are lock-free and return immutable snapshots.
/// Writes are serialized; each one that changes something bumps the node's version in that view and
/// emits its changes, in order, to every observer. A write that fails validation changes nothing: every value
/// must fit its URL's type and rules and every record <see cref="ValueRules.MaxRecordBytes"/> (see <see cref="ValueRules"/>).
/// </summary>
public sealed partial class StateStore
{
    private readonly ConcurrentDictionary<NodeId, Entry> _nodes = new();
    private readonly Lock _writeLock = new();
    private readonly List<StateChange> _pending = [];
    private IStateObserver[] _observers = [];
    private ulong _sequence;
    private ulong _committedSequence;
    private int _batchDepth;

    // What the transaction in progress changed, to put back if the journal refuses it (kept only with a journal).
    private readonly List<(NodeId Id, Entry? Entry, StateView View, NodeRecord? Old)> _undo = [];
    private IStateJournal? _journal;

    public StateStore(StateSchema? schema = null)
    {
        Schema = schema ?? StateSchema.Default;
    }

    public StateSchema Schema { get; }

    /// <summary>
    /// False stands up a store as a daemon from before the value rules kept it: whole records are stored unchecked.
    /// Only for tests of the receiving side of sync, which must cope with such a sender.
    /// </summary>
    internal bool EnforceValueRules { get; init; } = true;

    public int Count => _nodes.Count;

    /// <summary>The sequence number of the last committed change.</summary>
    public ulong Sequence => Volatile.Read(ref _sequence);

    public bool Contains(NodeId id) => _nodes.ContainsKey(id);

    /// <summary>
    /// Where every transaction is written before observers see it (the root's durable Cfg). A transaction the
    /// journal refuses throws <see cref="StateJournalException"/> and leaves the store as it was.
    /// </summary>
    public IStateJournal? Journal
    {
        get => _journal;
        set
        {
            lock (_writeLock)
            {
                _journal = value;
            }
        }
    }

    public NodeRecord? Get(StateView view, NodeId id) =>
        _nodes.TryGetValue(id, out var e) ? e.Get(view) : null;

    public NodeRecord GetRequired(StateView view, NodeId id) => Get(view, id) ?? throw new NodeNotFoundException(id);

    /// <summary>Both views of a node, read together.</summary>
    public bool TryGet(NodeId id, out NodeRecord cfg, out NodeRecord dsc)
    {
        if (_nodes.TryGetValue(id, out var e))
        {
            lock (e)
            {
                cfg = e.Cfg;
                dsc = e.Dsc;
            }

            return true;
        }

        cfg = dsc = null!;
        return false;
    }

    /// <summary>Every node's record in one view, sorted by id.</summary>
    public NodeRecord[] Snapshot(StateView view)
    {
        var list = new List<NodeRecord>(_nodes.Count);
        foreach (var kv in _nodes)
        {
            list.Add(kv.Value.Get(view));
        }

        list.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        return [.. list];
    }

    public IEnumerable<NodeId> Ids => _nodes.Keys;

    /// <summary>Adds an observer; dispose the result to remove it.</summary>
    public IDisposable Subscribe(IStateObserver observer)
    {
        lock (_writeLock)
        {
            _observers = [.. _observers, observer];
        }

        return new Subscription(this, observer);
    }

    /// <summary>
    /// A channel of changes for asynchronous readers. When the reader falls <paramref name="capacity"/>
    /// changes behind, the channel completes with <see cref="ChangeStreamOverflowException"/>: the reader
    /// has missed changes and must re-read the state.
    /// </summary>
    public ChannelReader<StateChange> Watch(Func<StateChange, bool>? filter = null, int capacity = 10_000, CancellationToken cancellationToken = default)
    {
        var observer = new ChannelObserver(filter, capacity);
        var subscription = Subscribe(observer);
        observer.Subscription = subscription;
        cancellationToken.Register(() =>
        {
            subscription.Dispose();
            observer.Channel.Writer.TryComplete();
        });
        return observer.Channel.Reader;
    }

    /// <summary>Creates a node: Cfg as given, Dsc empty unless given. Both start at version 1.</summary>
    public NodeRecord Create(NodeRecord cfg, NodeRecord? dsc = null)
    {
        CheckSchema(cfg);
        if (dsc is not null && dsc.Id != cfg.Id)
        {
            throw new ArgumentException($"Dsc record {dsc.Id} does not belong to node {cfg.Id}.", nameof(dsc));
        }

        if (EnforceValueRules)
        {
            ValueRules.CheckRecord(cfg);
            if (dsc is not null)
            {
                ValueRules.CheckRecord(dsc);
            }
        }

        lock (_writeLock)
        {
            if (_nodes.ContainsKey(cfg.Id))
            {
                throw new NodeExistsException(cfg.Id);
            }

            var c = cfg.WithVersion(1);
            var d = (dsc ?? NodeRecord.Empty(cfg.Id, Schema)).WithVersion(1);
            _nodes[cfg.Id] = new Entry(c, d);
            Remember(cfg.Id, null, StateView.Cfg, null);
            Emit(new StateChange(0, ChangeKind.Created, StateView.Cfg, cfg.Id, null, default, default, 1));
            Emit(new StateChange(0, ChangeKind.Created, StateView.Dsc, cfg.Id, null, default, default, 1));
            Commit();
            return c;
        }
    }

    /// <summary>Removes a node from both views; false when it did not exist.</summary>
    public bool Delete(NodeId id)
    {
        lock (_writeLock)
        {
            if (!_nodes.TryRemove(id, out var e))
            {
                return false;
            }

            Remember(id, e, StateView.Cfg, null);
            Emit(new StateChange(0, ChangeKind.Deleted, StateView.Cfg, id, null, default, default, e.Cfg.Version));
            Emit(new StateChange(0, ChangeKind.Deleted, StateView.Dsc, id, null, default, default, e.Dsc.Version));
            Commit();
            return true;
        }
    }

    /// <summary>Sets one value. Returns the node's record after the write.</summary>
    public NodeRecord Set(StateView view, NodeId id, StateUrl url, StateValue value, ulong? expectedVersion = null) =>
        Update(view, id, [new(url, value)], expectedVersion);

    /// <summary>Sets one value given as URL and text, parsed for the URL's type.</summary>
    public NodeRecord Set(StateView view, NodeId id, string url, string value)
    {
        var resolved = Schema.Resolve(url);
        return Set(view, id, resolved, NodeEditor.Parse(resolved, value));
    }

    /// <summary>
    /// Sets several values of one node atomically: all of them or none. Values equal to the current ones
    /// produce no change; if nothing changes, the version stays.
    /// </summary>
    public NodeRecord Update(StateView view, NodeId id, ReadOnlySpan<KeyValuePair<StateUrl, StateValue>> values, ulong? expectedVersion = null)
    {
        lock (_writeLock)
        {
            var entry = _nodes.TryGetValue(id, out var e) ? e : throw new NodeNotFoundException(id);
            var old = entry.Get(view);
            CheckVersion(old, expectedVersion);
            var editor = old.Edit();
            var allLeaves = true;
            foreach (var (url, value) in values)
            {
                editor.Set(url, value);
                allLeaves &= url.IsLeaf;
            }

            var next = editor.Build();
            if (EnforceValueRules)
            {
                CheckSize(next);
            }
            return allLeaves ? CommitLeaves(entry, view, old, next, values) : CommitRecord(entry, view, old, next, null);
        }
    }

    /// <summary>
    /// Replaces a node's whole record in one view, emitting one change per differing value. With
    /// <paramref name="version"/>, the record takes exactly that version (used when copying records from
    /// another daemon) and is ignored unless newer than the stored one.
    /// </summary>
    public NodeRecord Replace(StateView view, NodeRecord record, ulong? expectedVersion = null, ulong? version = null)
    {
        CheckSchema(record);
        if (EnforceValueRules)
        {
            ValueRules.CheckRecord(record);
        }
        lock (_writeLock)
        {
            var entry = _nodes.TryGetValue(record.Id, out var e) ? e : throw new NodeNotFoundException(record.Id);
            var old = entry.Get(view);
            CheckVersion(old, expectedVersion);
            if (version is { } v && v <= old.Version)
            {
                return old;
            }

            return CommitRecord(entry, view, old, record, version);
        }
    }

    /// <summary>
    /// Runs several writes as one transaction: observers see all of its changes in one call, after it
    /// returns. If <paramref name="body"/> throws, the writes it made before stay (validate first).
    /// </summary>
    public void Batch(Action<StateStore> body)
    {
        lock (_writeLock)
        {
            _batchDepth++;
            try
            {
                body(this);
            }
            finally
            {
                _batchDepth--;
                Commit();
            }
        }
    }

    private NodeRecord CommitLeaves(Entry entry, StateView view, NodeRecord old, NodeRecord next, ReadOnlySpan<KeyValuePair<StateUrl, StateValue>> values)
    {
        var version = old.Version + 1;
        var start = _pending.Count;
        for (var i = 0; i < values.Length; i++)
        {
            var url = values[i].Key;
            var seen = false;
            for (var j = 0; j < i; j++)
            {
                seen |= ReferenceEquals(values[j].Key, url);
            }

            if (seen)
            {
                continue;
            }

            var before = url.Get(old);
            var after = url.Get(next);
            if (before != after)
            {
                Emit(new StateChange(0, ChangeKind.Updated, view, old.Id, url, before, after, version));
            }
        }

        if (_pending.Count == start)
        {
            return old;
        }

        var stored = next.WithVersion(version);
        Remember(old.Id, entry, view, old);
        entry.Set(view, stored);
        Commit();
        return stored;
    }

    private NodeRecord CommitRecord(Entry entry, StateView view, NodeRecord old, NodeRecord next, ulong? setVersion)
    {
        var version = setVersion ?? old.Version + 1;
        var before = new Dictionary<StateUrl, StateValue>(ReferenceEqualityComparer.Instance);
        foreach (var (url, value) in old.Values())
        {
            before[url] = value;
        }

        var changed = false;
        foreach (var (url, value) in next.Values())
        {
            if (before.Remove(url, out var prior))
            {
                if (prior != value)
                {
                    Emit(new StateChange(0, ChangeKind.Updated, view, old.Id, url, prior, value, version));
                    changed = true;
                }
            }
            else
            {
                Emit(new StateChange(0, ChangeKind.Updated, view, old.Id, url, default, value, version));
                changed = true;
            }
        }

        foreach (var (url, prior) in before)
        {
            Emit(new StateChange(0, ChangeKind.Updated, view, old.Id, url, prior, default, version));
            changed = true;
        }

        if (!changed && setVersion is null && old.ValuesEqual(next))
        {
            return old;
        }

        var stored = next.WithVersion(version);
        Remember(old.Id, entry, view, old);
        entry.Set(view, stored);
        Commit();
        return stored;
    }

    private static void CheckVersion(NodeRecord current, ulong? expected)
    {
        if (expected is { } v && v != current.Version)
        {
            throw new VersionConflictException(current.Id, v, current.Version);
        }
    }

    private void CheckSchema(NodeRecord record)
    {
        if (!ReferenceEquals(record.Schema, Schema))
        {
            throw new ArgumentException($"Record {record.Id} was built with another schema.", nameof(record));
        }

        if (record.Id.IsNil)
        {
            throw new InvalidStateValueException("/Id", "The nil id is not a valid node id.");
        }
    }

    // The editor has checked each value; the record as a whole may still have grown past its limit.
    private static void CheckSize(NodeRecord record)
    {
        if (!ValueRules.TryCheckSize(record, out var error))
        {
            throw new InvalidStateValueException("/", $"Node {record.Id}: {error}.") { Node = record.Id };
        }
    }

    private void Emit(StateChange change) => _pending.Add(change with { Sequence = ++_sequence });

    /// <summary>Notes how to undo one write of the transaction in progress: Old null with Entry null undoes a create, with Entry a delete.</summary>
    private void Remember(NodeId id, Entry? entry, StateView view, NodeRecord? old)
    {
        if (_journal is not null)
        {
            _undo.Add((id, entry, view, old));
        }
    }

    private void Commit()
    {
        if (_batchDepth > 0)
        {
            return;
        }

        if (_pending.Count == 0)
        {
            // A write that changed nothing observable (a version-only copy) is not journaled.
            _undo.Clear();
            return;
        }

        if (_journal is { } journal)
        {
            try
            {
                journal.Write(this, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending));
            }
            catch (Exception ex)
            {
                Rollback();
                throw ex as StateJournalException ?? new StateJournalException($"The store could not commit: {ex.Message}", ex);
            }

            _undo.Clear();
        }

        _committedSequence = _sequence;
        var observers = _observers;
        try
        {
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
            foreach (var o in observers)
            {
                o.OnChanges(span);
            }
        }
        finally
        {
            _pending.Clear();
        }
    }

    /// <summary>Puts back what the refused transaction changed, newest first; no observer ever saw it.</summary>
    private void Rollback()
    {
        for (var i = _undo.Count - 1; i >= 0; i--)
        {
            var (id, entry, view, old) = _undo[i];
            if (old is not null)
            {
                entry!.Set(view, old);
            }
            else if (entry is null)
            {
                _nodes.TryRemove(id, out _);
            }
            else
            {
                _nodes[id] = entry;
            }
        }

        _undo.Clear();
        _pending.Clear();
        Volatile.Write(ref _sequence, _committedSequence);
    }

    private void Unsubscribe(IStateObserver observer)
    {
        lock (_writeLock)
        {
            _observers = [.. _observers.Where(o => !ReferenceEquals(o, observer))];
        }
    }

    private sealed class Entry(NodeRecord cfg, NodeRecord dsc)
    {
        public NodeRecord Cfg = cfg;
        public NodeRecord Dsc = dsc;

        public NodeRecord Get(StateView view) => view == StateView.Cfg ? Volatile.Read(ref Cfg) : Volatile.Read(ref Dsc);

        public void Set(StateView view, NodeRecord record)
        {
            lock (this)
            {
                if (view == StateView.Cfg)
                {
                    Volatile.Write(ref Cfg, record);
                }
                else
                {
                    Volatile.Write(ref Dsc, record);
                }
            }
        }
    }

    private sealed class Subscription(StateStore store, IStateObserver observer) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                store.Unsubscribe(observer);
            }
        }
    }

    private sealed class ChannelObserver(Func<StateChange, bool>? filter, int capacity) : IStateObserver
    {
        public Channel<StateChange> Channel { get; } = System.Threading.Channels.Channel.CreateBounded<StateChange>(
            new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

        public IDisposable? Subscription { get; set; }

        public void OnChanges(ReadOnlySpan<StateChange> changes)
        {
            foreach (var c in changes)
            {
                if (filter is not null && !filter(c))
                {
                    continue;
                }

                if (!Channel.Writer.TryWrite(c))
                {
                    Channel.Writer.TryComplete(new ChangeStreamOverflowException(capacity));
                    Subscription?.Dispose();
                    return;
                }
            }
        }
    }
}

/// <summary>A change-stream reader fell too far behind and was cut off; it must re-read the state.</summary>
public sealed class ChangeStreamOverflowException : Exception
{
    public ChangeStreamOverflowException(int capacity)
        : base($"The change stream reader fell {capacity} changes behind and was disconnected; re-read the state.")
    {
    }

    public ChangeStreamOverflowException()
    {
    }

    public ChangeStreamOverflowException(string message)
        : base(message)
    {
    }

    public ChangeStreamOverflowException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
