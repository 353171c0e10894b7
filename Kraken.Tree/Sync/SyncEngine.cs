// The tree sync engine: one node's side of every adjacency, on one serial executor.
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using Kraken.Net.Execution;
using Kraken.Net.Sync;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Tree.Sync;

/// <summary>
/// Keeps a node's <see cref="StateStore"/> in sync with its parent and children (docs/protocol.md): joins a
/// parent, sends its subtree's Dsc up and its children's subtrees' Cfg down, detects dead neighbours and fails
/// over. A single-threaded state machine: every method that touches protocol state runs on the injected
/// executor, all timing comes from the injected <see cref="TimeProvider"/>, and state is read and written only
/// through the store.
/// </summary>
public sealed partial class SyncEngine : ISyncTransportHandler, IStateObserver, IAsyncDisposable
{
    private readonly SyncOptions _options;
    private readonly StateStore _store;
    private readonly ISyncTransport _transport;
    private readonly TimeProvider _time;
    private readonly ISerialExecutor _executor;
    private readonly ILogger _logger;
    private readonly Random _random;
    private readonly long _origin;
    private readonly UInt128 _selfWire;
    private readonly Action<object?> _onDatagram;
    private readonly Dictionary<NodeId, Adjacency> _children = [];
    private FrameMac? _joinMac;
    private byte[]? _secret;
    // RunState and ParentId first (always the parent's), then the URLs its modules discover (the parent's where set).
    private readonly StateUrl[] _parentView;

    // Whether this node's modules read its children's power (PhysState is in the parent view): a child read as off is dead.
    private readonly bool _powersChildren;
    private readonly long[] _lastDropLog = new long[SyncProtocolNames.ReasonCount];
    private Adjacency? _parent;
    private AdjacencyInfo[] _snapshot = [];
    private IDisposable? _subscription;
    private ITimer? _tickTimer;
    private bool _started;
    private bool _stopped;

    public SyncEngine(SyncOptions options, StateStore store, ISyncTransport transport, TimeProvider time, ISerialExecutor executor, ILogger<SyncEngine>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _executor = executor ?? throw new ArgumentNullException(nameof(executor));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _random = new Random(options.Seed ?? (int)(options.NodeId.Low ^ (options.NodeId.High >> 7)));

        // Adjacency ids count up from a random start, so ids from before a restart rarely find an adjacency
        // again; a seeded engine (the simulator) draws the start from its seed to stay reproducible.
        _nextLocalId = options.Seed is { } seed ? (uint)new Random(seed).Next() : (uint)System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);
        _origin = time.GetTimestamp();
        _selfWire = Adjacency.Wire(options.NodeId);
        _onDatagram = OnDatagramPosted;
        if (options.JoinSecret.Length > 0)
        {
            _secret = (byte[])options.JoinSecret.Clone();
            _joinMac = new FrameMac(SyncKeys.DeriveJoinKey(_secret));
        }

        _control = options.Parents.Count == 0 ? options.InitialControl : default;
        _parentView = [store.Schema.RunState, store.Schema.ParentId, .. options.ParentView.Select(store.Schema.Resolve).Where(u => !ReferenceEquals(u, store.Schema.RunState) && !ReferenceEquals(u, store.Schema.ParentId))];
        _powersChildren = _parentView.Any(u => ReferenceEquals(u, store.Schema.PhysState));
    }

    public NodeId Self => _options.NodeId;

    public SyncOptions Options => _options;

    public SyncCounters Counters { get; } = new();

    /// <summary>Every adjacency with its state; safe to read from any thread.</summary>
    public IReadOnlyList<AdjacencyInfo> Adjacencies => Volatile.Read(ref _snapshot);

    /// <summary>The parent adjacency, or null (root, or not joined).</summary>
    public AdjacencyInfo? Parent => Adjacencies.FirstOrDefault(a => a.Role == AdjacencyRole.Parent);

    /// <summary>Raised on the executor at every adjacency state change.</summary>
    public event Action<AdjacencyTransition>? AdjacencyChanged;

    /// <summary>
    /// Raised on the executor when a first join with a bootstrap credential delivered the cluster's secrets: the
    /// named secrets (BMC credentials) this node's subtree needs. The join secret itself stays inside the engine.
    /// </summary>
    public event Action<IReadOnlyDictionary<string, string>>? SecretsReceived;

    /// <summary>True once this node holds the cluster join secret (configured, or received at its first join).</summary>
    public bool HasJoinSecret => Volatile.Read(ref _secret) is not null;

    /// <summary>Engine time: elapsed since construction on the injected clock.</summary>
    public TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>Starts receiving, hello timers and, when parents are configured, joining. Returns at once.</summary>
    public void Start()
    {
        if (_started)
        {
            throw new InvalidOperationException("The sync engine is already started.");
        }

        _started = true;
        _executor.Post(() =>
        {
            if (!_store.Contains(Self))
            {
                _store.Create(NodeRecord.Empty(Self, _store.Schema));
            }

            _subscription = _store.Subscribe(this);
            _transport.Start(this);
            RebuildTopology();
            _tickTimer = _executor.CreateTimer(_time, static s => ((SyncEngine)s!).Run(SyncWork.Tick), this, NextTickDelay(TimeSpan.MaxValue), Timeout.InfiniteTimeSpan);
            StartTimers();
            if (_options.Parents.Count > 0)
            {
                BeginJoin(0, TimeSpan.Zero);
            }
        });
    }

    /// <summary>
    /// Stops timers and closes streams; the transport stays the caller's to dispose. The work runs on the
    /// executor: with a <see cref="ManualExecutor"/>, run its queue for the returned task to complete.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (!_started)
        {
            _joinMac?.Dispose();
            return ValueTask.CompletedTask;
        }

        return new ValueTask(_executor.InvokeAsync(() =>
        {
            if (_stopped)
            {
                return true;
            }

            _stopped = true;
            _subscription?.Dispose();
            _tickTimer?.Dispose();
            StopTimers();
            CancelJoin();
            foreach (var adj in AdjacenciesInOrder())
            {
                adj.Dispose();
            }

            _joinMac?.Dispose();
            return true;
        }));
    }

    private void SetState(Adjacency adj, AdjacencyState to)
    {
        var from = adj.State;
        if (from == to)
        {
            return;
        }

        adj.State = to;
        adj.Since = Now;
        Counters.OnTransition(from, to);
        SyncLog.Transition(_logger, adj.Role, adj.Peer, from, to);
        PublishSnapshot();
        AdjacencyChanged?.Invoke(new AdjacencyTransition(adj.Peer, adj.Role, from, to, Now));
    }

    /// <summary>
    /// Publishes the adjacency list: O(children) reference copies into one array, since every adjacency keeps
    /// its own snapshot until it changes (a parent with hundreds of children joining at once would otherwise
    /// allocate a record per child per transition).
    /// </summary>
    private void PublishSnapshot()
    {
        // A fail-back attempt runs beside an adjacency that is up: that one is what the node has.
        var head = _join is { Failback: false } j
            ? new AdjacencyInfo(j.ParentId, AdjacencyRole.Parent, AdjacencyState.Joining, j.Started, _options.Parents[j.Index], j.Index)
            : _parent?.Info();
        var children = _childAdjacencies;
        var b = new AdjacencyInfo[children.Length + (head is null ? 0 : 1)];
        var n = 0;
        if (head is not null)
        {
            b[n++] = head;
        }

        foreach (var adj in children)
        {
            b[n++] = adj.Info();
        }

        Volatile.Write(ref _snapshot, b);
    }

    // ---- Receiving: transport callbacks copy and post; everything else runs on the executor. ----

    void ISyncTransportHandler.OnDatagram(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length > _options.MaxMessageSize + FrameHeader.Overhead)
        {
            Counters.OnDrop(DropReason.Oversize);
            return;
        }

        // Length-prefixed copy in a pooled array: posting it allocates nothing.
        var buffer = ArrayPool<byte>.Shared.Rent(datagram.Length + 4);
        BinaryPrimitives.WriteInt32LittleEndian(buffer, datagram.Length);
        datagram.CopyTo(buffer.AsSpan(4));
        _executor.Post(_onDatagram, buffer);
    }

    private void OnDatagramPosted(object? state)
    {
        var buffer = (byte[])state!;
        try
        {
            if (!_stopped)
            {
                var length = BinaryPrimitives.ReadInt32LittleEndian(buffer);
                Receive(buffer.AsSpan(4, length), null);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    void ISyncTransportHandler.OnConnected(IFrameConnection connection) => _executor.Post(() =>
    {
        if (!_stopped)
        {
            OnConnected(connection);
        }
    });

    void ISyncTransportHandler.OnFrame(IFrameConnection connection, ReadOnlySpan<byte> frame)
    {
        var copy = frame.ToArray();
        _executor.Post(() =>
        {
            if (!_stopped)
            {
                Receive(copy, connection);
            }
        });
    }

    void ISyncTransportHandler.OnClosed(IFrameConnection connection, Exception? error) => _executor.Post(() =>
    {
        if (error is SyncProtocolException p)
        {
            Drop(p.Reason, MessageType.Delta, p.Message);
        }

        if (!_stopped)
        {
            OnConnectionClosed(connection, error);
        }
    });

    /// <summary>A large frame on an inbound stream is admitted only from a neighbour whose adjacency is up at the stream's address.</summary>
    bool ISyncTransportHandler.AdmitsLargeFrame(EndPoint remote, UInt128 sender)
    {
        if (remote is not IPEndPoint from)
        {
            return false;
        }

        var peer = new NodeId((ulong)(sender >> 64), (ulong)sender);
        var address = from.Address.IsIPv4MappedToIPv6 ? from.Address.MapToIPv4() : from.Address;
        foreach (var a in Adjacencies)
        {
            if (a.Peer == peer && a.State is AdjacencyState.Exchange or AdjacencyState.Full && a.EndPoint is IPEndPoint at
                && (at.Address.IsIPv4MappedToIPv6 ? at.Address.MapToIPv4() : at.Address).Equals(address))
            {
                return true;
            }
        }

        return false;
    }

    void ISyncTransportHandler.OnTransportFault(string message) => SyncLog.TransportFault(_logger, message);

    /// <summary>One frame from a datagram or a stream. Checks run in order: header, sender, MAC, replay, payload.</summary>
    private void Receive(ReadOnlySpan<byte> frame, IFrameConnection? connection)
    {
        // Compact hellos come only as datagrams; their first byte can never start a full frame.
        if (connection is null && frame.Length > 0 && CompactHello.IsCompact(frame[0]))
        {
            ReceiveCompactHello(frame);
            return;
        }

        FrameHeader header;
        try
        {
            header = FrameCodec.ReadDatagram(frame, _options.MaxMessageSize);
        }
        catch (SyncProtocolException ex)
        {
            Drop(ex.Reason, frame.Length > 2 ? (MessageType)frame[2] : 0, ex.Message);
            return;
        }

        switch (header.Type)
        {
            case MessageType.JoinRequest or MessageType.JoinChallenge or MessageType.JoinAccept or MessageType.JoinReject:
                if (connection is null)
                {
                    Drop(DropReason.Malformed, header.Type, "join messages travel only on streams");
                    return;
                }

                Counters.OnReceived(header.Type, frame.Length);
                OnJoinFrame(connection, header, frame);
                return;
        }

        var sender = new NodeId((ulong)(header.Sender >> 64), (ulong)header.Sender);
        var adj = Find(sender);
        if (adj is null || !adj.IsUp)
        {
            Drop(DropReason.UnknownSender, header.Type, $"no adjacency with {sender}");
            return;
        }

        if (!FrameCodec.Verify(frame, adj.Mac))
        {
            Drop(DropReason.BadMac, header.Type, $"from {sender}");
            return;
        }

        var highest = adj.Window.Highest;
        if (!adj.Window.Accept(header.Sequence))
        {
            Drop(DropReason.Replay, header.Type, $"sequence {header.Sequence} from {sender}, highest {adj.Window.Highest}");
            return;
        }

        adj.Loss.OnFrame(header.Sequence, highest);

        Counters.OnReceived(header.Type, frame.Length);
        try
        {
            Dispatch(adj, header, FrameCodec.Payload(frame, header));
        }
        catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or SyncProtocolException or StateException)
        {
            Drop(DropReason.Malformed, header.Type, ex.Message);
        }
    }

    private void Dispatch(Adjacency adj, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        adj.LastHeard = Now;
        adj.HeardSinceAccept = true;
        switch (header.Type)
        {
            case MessageType.Hello:
                var hello = HelloCodec.Read(payload);
                OnHello(adj, hello.Pending, hello.Digest == adj.Received.Digest.Value && hello.Count == adj.Received.Digest.Count);
                break;
            case MessageType.FullHello:
                OnFullHello(adj, Net.Sync.Proto.FullHello.Parser.ParseFrom(payload));
                break;
            case MessageType.Delta:
                OnDelta(adj, Net.Sync.Proto.Delta.Parser.ParseFrom(payload));
                break;
            case MessageType.Ack:
                OnAck(adj, Net.Sync.Proto.Ack.Parser.ParseFrom(payload));
                break;
            case MessageType.RepairRequest:
                OnRepairRequest(adj, Net.Sync.Proto.RepairRequest.Parser.ParseFrom(payload));
                break;
        }

        MaybeFull(adj);
    }

    private void MaybeFull(Adjacency adj)
    {
        if (adj.State == AdjacencyState.Exchange && adj.HeardSinceAccept && adj.Unacked.Count == 0)
        {
            SetState(adj, AdjacencyState.Full);
            if (adj.Role == AdjacencyRole.Parent)
            {
                ArmFailback();
            }
        }
    }

    private Adjacency? Find(NodeId sender)
    {
        if (_parent is { } p && p.Peer == sender)
        {
            return p;
        }

        return _children.GetValueOrDefault(sender);
    }

    private void Drop(DropReason reason, MessageType type, string detail)
    {
        Counters.OnDrop(reason);

        // At most one log line per reason per second: a flood of bad frames must not flood the log.
        var now = _time.GetTimestamp();
        if (now - _lastDropLog[(int)reason] >= _time.TimestampFrequency)
        {
            _lastDropLog[(int)reason] = now;
            SyncLog.Dropped(_logger, SyncProtocolNames.Name(type), reason, detail, Counters.Drops(reason));
        }
    }

    // ---- Sending ----

    /// <summary>Sends one frame on an adjacency: a datagram when it fits, else a short-lived stream.</summary>
    private void Send(Adjacency adj, MessageType type, ReadOnlySpan<byte> payload)
    {
        var length = FrameHeader.Overhead + payload.Length;
        var seq = ++adj.SendSequence;
        if (length <= _transport.MaxDatagramSize)
        {
            var rented = length <= 256 ? null : ArrayPool<byte>.Shared.Rent(length);
            Span<byte> buffer = rented is null ? stackalloc byte[256] : rented;
            try
            {
                var n = FrameCodec.Write(buffer, type, 0, _selfWire, seq, payload, adj.Mac);
                _transport.SendDatagram(adj.EndPoint, buffer[..n]);
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }
        else
        {
            SendBulk(adj, FrameCodec.ToArray(type, _selfWire, seq, payload, adj.Mac));
        }

        Counters.OnSent(type, length);
    }

    private void SendBulk(Adjacency adj, byte[] frame) => _transport.Connect(adj.EndPoint, new BulkSend(frame));

    /// <summary>A frame waiting for its short-lived stream to open.</summary>
    private sealed record BulkSend(byte[] Frame);

    private void OnConnected(IFrameConnection connection)
    {
        switch (connection.Tag)
        {
            case BulkSend bulk:
                connection.Send(bulk.Frame);
                connection.Close();
                break;
            case JoinAttempt attempt:
                OnJoinConnected(connection, attempt);
                break;
            default:
                // Inbound: the peer speaks first (a join request or bulk frames).
                break;
        }
    }

    private void OnConnectionClosed(IFrameConnection connection, Exception? error)
    {
        if (connection.Tag is JoinAttempt attempt && ReferenceEquals(attempt, _join))
        {
            JoinFailed(error is null ? "the parent closed the stream" : $"stream failed: {error.Message}");
        }
        else if (connection.Tag is PendingJoin pending && _pendingJoins.Remove(connection))
        {
            pending.Keys.Dispose();
        }
    }

    /// <summary>
    /// The delay to the next hello tick: the hello interval with a symmetric jitter (uniform within
    /// ±<see cref="SyncOptions.HelloJitter"/>/2 of it), so each neighbour gets exactly one hello per interval on
    /// average. A tick later than one interval could let a neighbour's dead interval pass more than one hello
    /// interval before the check that notices it; so the tick comes no later than one hello interval after
    /// <paramref name="earliestDeadline"/>, the first moment a neighbour could be declared dead, which keeps
    /// detection within [dead, dead + hello] of silence (docs/protocol.md, "Failure").
    /// </summary>
    private TimeSpan NextTickDelay(TimeSpan earliestDeadline)
    {
        var delay = _options.HelloInterval * (1 + (_options.HelloJitter * (_random.NextDouble() - 0.5)));
        if (earliestDeadline == TimeSpan.MaxValue)
        {
            return delay;
        }

        var latest = Until(earliestDeadline + _options.HelloInterval);
        return delay <= latest ? delay : latest;
    }

    /// <summary>
    /// The delay from now until <paramref name="due"/>, never negative: time moves on while a pass runs (a slow or
    /// stalled machine), so a moment computed earlier in the pass may already have passed when its timer is armed.
    /// </summary>
    private TimeSpan Until(TimeSpan due)
    {
        var delay = due - Now;
        return delay > TimeSpan.Zero ? delay : TimeSpan.Zero;
    }
}
