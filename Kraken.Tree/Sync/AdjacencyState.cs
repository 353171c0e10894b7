// The per-neighbour state machine of the sync protocol, as seen from outside the engine.
using System.Net;
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

/// <summary>
/// States of an adjacency (docs/protocol.md, "Adjacency state machine"):
/// Down -> Joining -> Exchange -> Full, and Full or Exchange -> Dead on silence.
/// </summary>
public enum AdjacencyState : byte
{
    /// <summary>No adjacency (initial; also a replaced or closed one).</summary>
    Down,

    /// <summary>Child side: connecting and proving identity to a parent.</summary>
    Joining,

    /// <summary>Keys agreed, initial records sent; waiting for the peer's first acknowledgement or message.</summary>
    Exchange,

    /// <summary>Synchronized: hellos flow both ways and changes are sent as deltas.</summary>
    Full,

    /// <summary>Silent for the dead interval.</summary>
    Dead,
}

/// <summary>Whether the neighbour is this node's parent or one of its children.</summary>
public enum AdjacencyRole : byte
{
    Parent,
    Child,
}

/// <summary>A snapshot of one adjacency for the API, logs and tests.</summary>
/// <param name="Peer">The neighbour (nil while joining a parent whose id is not known yet).</param>
/// <param name="Role">Whether the peer is this node's parent or child.</param>
/// <param name="State">Where the adjacency is in its state machine.</param>
/// <param name="Since">Engine time when the adjacency entered <paramref name="State"/>.</param>
/// <param name="EndPoint">Where hellos and deltas to the peer go.</param>
/// <param name="ParentIndex">For a parent: its index in the configured parent list.</param>
public sealed record AdjacencyInfo(NodeId Peer, AdjacencyRole Role, AdjacencyState State, TimeSpan Since, EndPoint? EndPoint, int ParentIndex);

/// <summary>One state transition, as raised by <see cref="SyncEngine.AdjacencyChanged"/>.</summary>
public readonly record struct AdjacencyTransition(NodeId Peer, AdjacencyRole Role, AdjacencyState From, AdjacencyState To, TimeSpan At);
