// The ordered change stream of a state store: one entry per changed value, node creation or deletion.
namespace Kraken.Tree.State;

/// <summary>The two views every node has.</summary>
public enum StateView : byte
{
    /// <summary>Configured: what we want.</summary>
    Cfg,

    /// <summary>Discovered: what we believe is true.</summary>
    Dsc,
}

public enum ChangeKind : byte
{
    Created,
    Updated,
    Deleted,
}

/// <summary>
/// One change. <see cref="Sequence"/> orders every change of a store; <see cref="Version"/> is the node's
/// version in <see cref="View"/> after the change. For <see cref="ChangeKind.Created"/> and
/// <see cref="ChangeKind.Deleted"/>, <see cref="Url"/> is null.
/// </summary>
public readonly record struct StateChange(
    ulong Sequence,
    ChangeKind Kind,
    StateView View,
    NodeId Node,
    StateUrl? Url,
    StateValue Old,
    StateValue New,
    ulong Version)
{
    public override string ToString() => Kind switch
    {
        ChangeKind.Updated => $"#{Sequence} {View} {Node}:{Url} {Old} -> {New} v{Version}",
        _ => $"#{Sequence} {View} {Node} {Kind} v{Version}",
    };
}

/// <summary>
/// Receives committed changes in sequence order, one call per transaction. Called while the store's write
/// lock is held: implementations must be quick and must not block (queue the work, do it elsewhere).
/// </summary>
public interface IStateObserver
{
    void OnChanges(ReadOnlySpan<StateChange> changes);
}

/// <summary>
/// Makes a store's transactions durable before anyone sees them (<see cref="StateStore.Journal"/>). Called under
/// the store's write lock with the transaction's changes, before the observers; throwing refuses the transaction.
/// </summary>
public interface IStateJournal
{
    void Write(StateStore store, ReadOnlySpan<StateChange> changes);
}

/// <summary>
/// The store's journal refused a transaction (the disk is full, the database failed): the store is as it was
/// before it, and no observer saw it. The message names the cause.
/// </summary>
public sealed class StateJournalException : Exception
{
    public StateJournalException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public StateJournalException(string message)
        : base(message)
    {
    }

    public StateJournalException()
    {
    }
}
