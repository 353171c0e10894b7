// One neighbour's protocol state inside the engine: keys, sequence numbers, tables and pending deltas.
using System.Net;
using Kraken.Net.Sync;
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

/// <summary>
/// An adjacency with a parent or a child. Outbound, it tracks the records this side must keep the peer up to
/// date with (<see cref="Flowing"/>), what was last sent (<see cref="Advertised"/>, digested into hellos), what
/// is waiting (<see cref="Dirty"/>, damped) and what is unacknowledged. Inbound, it tracks the peer's versions
/// received (<see cref="Received"/>), whose digest must match the peer's hellos.
/// </summary>
internal sealed class Adjacency(NodeId peer, AdjacencyRole role, byte[] key, EndPoint endPoint, TimeSpan now) : IDisposable
{
    public NodeId Peer { get; } = peer;

    public AdjacencyRole Role { get; } = role;

    private AdjacencyState _state = AdjacencyState.Exchange;
    private TimeSpan _since = now;
    private int _parentIndex = -1;
    private AdjacencyInfo? _info;

    public AdjacencyState State
    {
        get => _state;
        set
        {
            _state = value;
            _info = null;
        }
    }

    public TimeSpan Since
    {
        get => _since;
        set
        {
            _since = value;
            _info = null;
        }
    }

    public FrameMac Mac { get; } = new(key);

    /// <summary>Where hellos and deltas go; bulk streams are opened to the same endpoint.</summary>
    public EndPoint EndPoint { get; } = endPoint;

    public int ParentIndex
    {
        get => _parentIndex;
        init => _parentIndex = value;
    }

    /// <summary>This side's id of the adjacency (nonzero), given to the peer at join: compact hellos from the peer carry it.</summary>
    public uint LocalId { get; init; }

    /// <summary>The peer's id of the adjacency, put in compact hellos to it; 0 when the peer gave none (full-frame hellos).</summary>
    public uint RemoteId { get; set; }

    /// <summary>The per-adjacency frame counter; compact hellos carry its low 32 bits.</summary>
    public ulong SendSequence { get; set; }

    public ReplayWindow Window { get; } = new();

    public TimeSpan LastHeard { get; set; } = now;

    public bool HeardSinceAccept { get; set; }

    /// <summary>The view this side sends: Cfg down to a child, Dsc up to a parent.</summary>
    public StateView OutView => Role == AdjacencyRole.Child ? StateView.Cfg : StateView.Dsc;

    public StateView InView => Role == AdjacencyRole.Child ? StateView.Dsc : StateView.Cfg;

    // Outbound.
    public HashSet<NodeId> Flowing { get; set; } = [];

    /// <summary>The version of each record last sent; its digest goes in hellos.</summary>
    public VersionTable Advertised { get; } = new();

    public SortedSet<NodeId> Dirty { get; } = [];

    public Dictionary<NodeId, DampState> Damping { get; } = [];

    public SortedDictionary<ulong, PendingDelta> Unacked { get; } = [];

    public ulong NextDeltaId { get; set; }

    /// <summary>Child adjacencies: the cluster's control state changed since the child was last sent it.</summary>
    public bool ControlDirty { get; set; }

    // Inbound.
    /// <summary>The peer's version of each record received; its digest must match the peer's hellos.</summary>
    public VersionTable Received { get; } = new();

    public TimeSpan LastRepairRequest { get; set; } = TimeSpan.MinValue;

    public bool IsUp => State is AdjacencyState.Exchange or AdjacencyState.Full;

    public static UInt128 Wire(NodeId id) => new(id.High, id.Low);

    /// <summary>
    /// The adjacency as the API sees it. Made again only after a change, so publishing a parent's snapshot
    /// costs no allocation per unchanged child. Called on the engine's executor only.
    /// </summary>
    public AdjacencyInfo Info() => _info ??= new(Peer, Role, _state, _since, EndPoint, _parentIndex);

    public void Dispose() => Mac.Dispose();
}

/// <summary>A delta waiting for its acknowledgement.</summary>
internal sealed class PendingDelta(byte[] payload, TimeSpan due)
{
    public byte[] Payload { get; } = payload;

    public TimeSpan Due { get; set; } = due;

    public int Retries { get; set; }
}

/// <summary>Damping of one record on one adjacency: when it was last sent and how long to hold the next send.</summary>
internal struct DampState
{
    public TimeSpan LastSent;
    public TimeSpan Hold;
}
