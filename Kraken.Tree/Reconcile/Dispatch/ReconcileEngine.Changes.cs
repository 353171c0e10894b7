// How store changes reach the engine: marked dirty under the store's lock, processed in one pass on the executor.
using System.Runtime.InteropServices;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public sealed partial class ReconcileEngine
{
    /// <summary>Runs one processing pass over every node marked since the last one, in marking order.</summary>
    private void RunPass()
    {
        var (order, pending) = _observer.TakePending();
        foreach (var id in order)
        {
            var forget = pending[id].Forget;
            if (forget != 0)
            {
                Forget(id, forget);
            }

            Evaluate(id);
        }

        _observer.ReturnPending(order, pending);
    }

    /// <summary>
    /// Clears Dsc values that became unknowable when a value they depend on changed (powering off forgets the
    /// PXE state and RunState), unless they were re-discovered since. Written only if Dsc did not change since
    /// it was read; otherwise retried in the next pass with whatever was re-discovered meanwhile left alone.
    /// </summary>
    private void Forget(NodeId id, UInt128 mask)
    {
        if (!_store.TryGet(id, out _, out var dsc))
        {
            return;
        }

        var raw = _layout.Project(dsc);
        UInt128 clear = 0;
        bool grew;
        do
        {
            grew = false;
            for (var i = 0; i < _layout.Count; i++)
            {
                var field = _layout.FieldMask(i);
                if ((clear & field) != 0 || _layout.Get(raw, i) == 0)
                {
                    continue;
                }

                var forget = (mask & field) != 0;
                foreach (var (u, d) in _layout.Deps[i])
                {
                    forget |= (clear & _layout.FieldMask(u)) != 0 && _layout.Get(raw, u) == d;
                }

                if (forget)
                {
                    clear |= field;
                    grew = true;
                }
            }
        }
        while (grew);

        if (clear == 0)
        {
            return;
        }

        var values = new List<KeyValuePair<StateUrl, StateValue>>();
        for (var i = 0; i < _layout.Count; i++)
        {
            if ((clear & _layout.FieldMask(i)) != 0)
            {
                values.Add(new(_layout.Urls[i], StateValue.None));
            }
        }

        try
        {
            _store.Update(StateView.Dsc, id, CollectionsMarshal.AsSpan(values), dsc.Version);
        }
        catch (VersionConflictException)
        {
            _observer.Requeue(id, mask);
        }
        catch (NodeNotFoundException)
        {
        }
    }

    private struct Pending
    {
        /// <summary>Fields to forget: a value they depend on changed away.</summary>
        public UInt128 Forget;

        /// <summary>Fields written in Dsc since this entry was made: fresh values are never forgotten.</summary>
        public UInt128 Written;
    }

    /// <summary>
    /// Receives the store's changes under its write lock: only records which nodes need a look and posts one
    /// pass if none is pending, so a bulk change of 100,000 nodes is processed in one pass.
    /// </summary>
    private sealed class Observer : IStateObserver
    {
        private readonly ReconcileEngine _engine;
        private readonly Dictionary<StateUrl, int> _relevant = new(ReferenceEqualityComparer.Instance);
        private readonly Lock _lock = new();
        private Dictionary<NodeId, Pending> _pending = [];
        private List<NodeId> _order = [];
        private Dictionary<NodeId, Pending>? _spare = [];
        private List<NodeId>? _spareOrder = [];
        private bool _passPosted;

        public Observer(ReconcileEngine engine)
        {
            _engine = engine;
            var layout = engine._layout;
            for (var i = 0; i < layout.Count; i++)
            {
                _relevant[layout.Urls[i]] = i;
            }

            foreach (var url in engine.Catalog.ConstraintUrls)
            {
                _relevant[url] = -1;
            }

            // Context: who the responsible parent is can change with these.
            _relevant.TryAdd(engine._store.Schema.ParentId, -1);
            _relevant.TryAdd(engine._store.Schema.BackupParents, -1);
        }

        public void OnChanges(ReadOnlySpan<StateChange> changes)
        {
            var layout = _engine._layout;
            lock (_lock)
            {
                var marked = false;
                foreach (ref readonly var c in changes)
                {
                    if (c.Kind != ChangeKind.Updated)
                    {
                        EntryFor(c.Node);
                        marked = true;
                        continue;
                    }

                    if (c.Url is null || !_relevant.TryGetValue(c.Url, out var index))
                    {
                        continue;
                    }

                    ref var entry = ref EntryFor(c.Node);
                    marked = true;
                    if (c.View != StateView.Dsc || index < 0)
                    {
                        continue;
                    }

                    var field = layout.FieldMask(index);
                    entry.Forget &= ~field;
                    entry.Written |= field;
                    var before = layout.Dense(index, c.Old);
                    var after = layout.Dense(index, c.New);
                    foreach (var (dependent, value) in layout.Dependents[index])
                    {
                        if (before == value && after != value)
                        {
                            entry.Forget |= layout.FieldMask(dependent);
                        }
                    }
                }

                if (marked)
                {
                    PostPass();
                }
            }
        }

        public void Mark(NodeId id)
        {
            lock (_lock)
            {
                EntryFor(id);
                PostPass();
            }
        }

        public void Requeue(NodeId id, UInt128 forget)
        {
            lock (_lock)
            {
                ref var entry = ref EntryFor(id);
                entry.Forget |= forget & ~entry.Written;
                PostPass();
            }
        }

        public (List<NodeId> Order, Dictionary<NodeId, Pending> Pending) TakePending()
        {
            lock (_lock)
            {
                var taken = (_order, _pending);
                _order = _spareOrder ?? [];
                _pending = _spare ?? [];
                _spareOrder = null;
                _spare = null;
                _passPosted = false;
                return taken;
            }
        }

        public void ReturnPending(List<NodeId> order, Dictionary<NodeId, Pending> pending)
        {
            order.Clear();
            pending.Clear();
            lock (_lock)
            {
                _spareOrder = order;
                _spare = pending;
            }
        }

        private ref Pending EntryFor(NodeId id)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_pending, id, out var exists);
            if (!exists)
            {
                _order.Add(id);
            }

            return ref entry;
        }

        private void PostPass()
        {
            if (!_passPosted)
            {
                _passPosted = true;
                _engine._executor.Post(static s => ((ReconcileEngine)s!).RunPass(), _engine);
            }
        }
    }
}
