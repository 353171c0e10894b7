// Failure: a silent neighbour is Dead; a dead child is shown as ERROR; a child that lost its parent fails over.
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.Sync;

public sealed partial class SyncEngine
{
    /// <summary>
    /// Declares <paramref name="adj"/> dead. For a child: its Dsc /RunState becomes ERROR here (and so at every
    /// tier above), and the nodes below it that it carried stop flowing up from this node until another parent
    /// reports them; their last known Dsc stays. For the parent: this node's own /RunState becomes ERROR and it
    /// joins the next configured parent at once (later failures back off).
    /// </summary>
    private void MarkDead(Adjacency adj, TimeSpan silence)
    {
        SyncLog.Dead(_logger, adj.Peer, adj.Role, silence);
        adj.Unacked.Clear();
        adj.Dirty.Clear();
        SetState(adj, AdjacencyState.Dead);
        var error = StateValue.FromEnum(RunState.Error);
        if (adj.Role == AdjacencyRole.Child)
        {
            if (_store.Contains(adj.Peer))
            {
                // No longer attached here either: this report must not claim the node from the parent it moved to.
                _store.Batch(store =>
                {
                    store.Set(StateView.Dsc, adj.Peer, _store.Schema.RunState, error);
                    if (store.Get(StateView.Dsc, adj.Peer)?.ParentId == Self)
                    {
                        store.Set(StateView.Dsc, adj.Peer, _store.Schema.ParentId, StateValue.None);
                    }
                });
            }

            ReleaseAll(adj);
            SetLost(adj.Peer, true);
            return;
        }

        _store.Set(StateView.Dsc, Self, _store.Schema.RunState, error);
        BeginJoin(adj.ParentIndex + 1, TimeSpan.Zero);
    }
}
