// The cluster-wide control state the root authors and every tier follows (today: freeze).
namespace Kraken.Tree.Sync;

/// <summary>
/// Freeze across the tree: the root sets it; it travels down in JoinAccepts and deltas (docs/protocol.md 8.1), and
/// each daemon stops or resumes its mutation dispatch to match. <paramref name="Version"/> only grows at the root, so
/// a retransmitted older state never undoes a newer one; a join takes the parent's state whatever its version.
/// </summary>
/// <param name="Version">Set by the root at each change; 0 means never set (thawed).</param>
/// <param name="Frozen">True: no daemon dispatches mutations.</param>
public readonly record struct ClusterControl(ulong Version, bool Frozen);
