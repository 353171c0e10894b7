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

    /// <summary>The share of the peer's datagrams lost on the way here, from gaps in its frame sequence.</summary>
    public LossEstimate Loss { get; } = new();

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

/// <summary>
/// The loss rate of one peer's datagrams, from its frame sequence numbers (one counter for all its frames): a gap
/// counts the missing numbers as lost, a number that arrives late (reordered, or on the stream) takes one back.
/// Over the first <see cref="Span"/> frames a cautious average, (lost + 1/2) / (frames + 1), which starts at one
/// half: a new adjacency has not shown yet that its link is clean, and a run of lost hellos right after a join must
/// not kill it. Then a moving average over about the last <see cref="Span"/> frames.
/// </summary>
internal sealed class LossEstimate
{
    /// <summary>Frames the average covers, roughly; small enough to follow a link that turns lossy within minutes.</summary>
    public const int Span = SyncOptions.LossWarmUpFrames;

    /// <summary>A jump this large is a restart or a resync, not loss.</summary>
    private const ulong MaxGap = 64;

    private int _samples;
    private double _lost;
    private double _average;

    /// <summary>The estimated loss rate, 0 to 1.</summary>
    public double Rate => _samples < Span ? (_lost + 0.5) / (_samples + 1) : _average;

    /// <summary>Takes one accepted frame: <paramref name="sequence"/>, with the highest accepted before it.</summary>
    public void OnFrame(ulong sequence, ulong highestBefore)
    {
        if (highestBefore == 0)
        {
            return; // the first frame: nothing to compare with
        }

        if (sequence < highestBefore)
        {
            // Counted lost when the gap opened; it came after all.
            if (_samples < Span)
            {
                _lost = Math.Max(0, _lost - 1);
            }
            else
            {
                _average = Math.Max(0, _average - (1.0 / Span));
            }

            return;
        }

        var gap = Math.Min(sequence - highestBefore - 1, MaxGap);
        for (ulong i = 0; i < gap; i++)
        {
            Add(1);
        }

        Add(0);
    }

    private void Add(double lost)
    {
        if (_samples < Span)
        {
            // The moving average starts from the plain average of the first Span frames.
            _lost += lost;
            if (++_samples == Span)
            {
                _average = _lost / Span;
            }
        }
        else
        {
            _average += (lost - _average) / Span;
        }
    }
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
