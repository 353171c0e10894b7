// A simulated network on a virtual clock: latency, jitter, loss, duplication, reordering and partitions.
using System.Buffers;
using System.Net;
using Kraken.Net.Execution;

namespace Kraken.Net.Transport;

/// <summary>Link behaviour of an <see cref="InMemoryNetwork"/>. Probabilities are in [0, 1].</summary>
public sealed record NetworkConditions
{
    /// <summary>One-way delay of every delivery.</summary>
    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Extra delay, uniform in [0, Jitter], per datagram.</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>Probability that a datagram is lost.</summary>
    public double Loss { get; init; }

    /// <summary>Probability that a datagram is delivered twice.</summary>
    public double Duplicate { get; init; }

    /// <summary>Probability that a datagram is held back (see <see cref="ReorderDelay"/>), so later ones overtake it.</summary>
    public double Reorder { get; init; }

    /// <summary>
    /// Longest extra delay of a held-back datagram: uniform in [0, ReorderDelay] on top of one latency. Zero (the
    /// default) holds it back by one to two latencies (at least 1 ms).
    /// </summary>
    public TimeSpan ReorderDelay { get; init; }

    public static NetworkConditions Perfect { get; } = new();

    public void Validate()
    {
        if (Latency < TimeSpan.Zero || Jitter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Latency), "Latency and Jitter must not be negative.");
        }

        if (ReorderDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ReorderDelay), ReorderDelay, "ReorderDelay must not be negative.");
        }

        foreach (var (name, p) in new[] { (nameof(Loss), Loss), (nameof(Duplicate), Duplicate), (nameof(Reorder), Reorder) })
        {
            if (p is < 0 or > 1 || double.IsNaN(p))
            {
                throw new ArgumentOutOfRangeException(name, p, $"{name} is a probability in [0, 1].");
            }
        }
    }

    /// <summary>The extra delay of a held-back datagram for a uniform draw <paramref name="u"/> in [0, 1).</summary>
    public TimeSpan HoldBack(double u) => TimeSpan.FromTicks(ReorderDelay > TimeSpan.Zero
        ? Latency.Ticks + (long)(u * ReorderDelay.Ticks)
        : Latency.Ticks + (long)(u * Math.Max(Latency.Ticks, TimeSpan.TicksPerMillisecond)));
}

/// <summary>
/// A group of endpoints cut off from the rest of an <see cref="InMemoryNetwork"/> (<see cref="InMemoryNetwork.Split"/>):
/// they reach each other, nothing outside, until healed.
/// </summary>
public sealed class NetworkSplit
{
    internal NetworkSplit(int id, UInt128[] members)
    {
        Id = id;
        Members = members;
    }

    /// <summary>Endpoints on the cut-off side.</summary>
    public int Count => Members.Length;

    /// <summary>True once the split has healed.</summary>
    public bool Healed { get; internal set; }

    internal int Id { get; }

    internal UInt128[] Members { get; }

    internal ITimer? HealTimer { get; set; }
}

/// <summary>
/// Carries datagrams and framed streams between <see cref="InMemoryTransport"/>s. Everything is driven by the
/// injected clock and executor and a seeded random generator, so a run is reproducible. Pending deliveries sit
/// in one priority queue with one armed timer for the earliest; payloads travel in pooled buffers.
/// Streams are reliable and ordered (no loss, duplication or reordering); a stream frame that meets a
/// partition or a crashed peer breaks the stream silently, as a TCP connection that will time out.
/// Partitions are pairwise (<see cref="Partition"/>) or cut a whole group off the rest (<see cref="Split"/>);
/// both are checked when a delivery falls due, so whatever is in flight across a new cut is lost.
/// </summary>
public sealed class InMemoryNetwork
{
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Lock _lock = new();
    private readonly PriorityQueue<Delivery, (long Due, long Seq)> _queue = new();
    private readonly Dictionary<UInt128, InMemoryTransport> _transports = [];
    private readonly HashSet<(UInt128, UInt128)> _cut = [];
    private readonly HashSet<(UInt128 From, UInt128 To)> _oneWay = [];
    private readonly Dictionary<UInt128, int> _side = [];
    private readonly Dictionary<int, NetworkSplit> _activeSplits = [];
    private readonly ISerialExecutor _executor;
    private readonly ITimer _timer;
    private int _splits;
    private NetworkConditions _conditions = NetworkConditions.Perfect;
    private long _seq;
    private long _armedDue = long.MaxValue;

    public InMemoryNetwork(TimeProvider time, ISerialExecutor executor, int seed)
    {
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _executor = executor ?? throw new ArgumentNullException(nameof(executor));
        _random = new Random(seed);
        _timer = executor.CreateTimer(time, static s => ((InMemoryNetwork)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public NetworkConditions Conditions
    {
        get => _conditions;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            _conditions = value;
        }
    }

    /// <summary>
    /// Sees every datagram as it is sent (before loss), like a capture on the wire: tests use it to take real
    /// frames to tamper with or replay. Called under the network's lock; must not send.
    /// </summary>
    public DatagramTap? Tap { get; set; }

    /// <summary>Datagrams and stream frames delivered.</summary>
    public long Delivered { get; private set; }

    /// <summary>Datagrams lost (by chance, partition or crash) and stream frames dropped on broken streams.</summary>
    public long Lost { get; private set; }

    /// <summary>Datagrams delivered twice.</summary>
    public long Duplicated { get; private set; }

    /// <summary>Deliveries waiting.</summary>
    public int InFlight
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Attaches a transport at <paramref name="address"/>, replacing a crashed one there.</summary>
    public InMemoryTransport CreateTransport(InMemoryEndPoint address, int maxDatagramSize = 1400)
    {
        ArgumentNullException.ThrowIfNull(address);
        lock (_lock)
        {
            if (_transports.TryGetValue(address.Address, out var existing) && !existing.Crashed)
            {
                throw new InvalidOperationException($"{address} is already attached.");
            }

            var t = new InMemoryTransport(this, address, maxDatagramSize);
            _transports[address.Address] = t;
            return t;
        }
    }

    /// <summary>Stops all traffic between <paramref name="a"/> and <paramref name="b"/>, both ways.</summary>
    public void Partition(InMemoryEndPoint a, InMemoryEndPoint b)
    {
        lock (_lock)
        {
            _cut.Add(Key(a.Address, b.Address));
        }
    }

    /// <summary>
    /// Stops traffic from <paramref name="from"/> to <paramref name="to"/> only, as a link that fails one way: the
    /// other direction still flows. <see cref="Heal(InMemoryEndPoint, InMemoryEndPoint)"/> ends it.
    /// </summary>
    public void CutOneWay(InMemoryEndPoint from, InMemoryEndPoint to)
    {
        lock (_lock)
        {
            _oneWay.Add((from.Address, to.Address));
        }
    }

    /// <summary>Ends a partition or one-way cut between <paramref name="a"/> and <paramref name="b"/>, in both directions.</summary>
    public void Heal(InMemoryEndPoint a, InMemoryEndPoint b)
    {
        lock (_lock)
        {
            _cut.Remove(Key(a.Address, b.Address));
            _oneWay.Remove((a.Address, b.Address));
            _oneWay.Remove((b.Address, a.Address));
        }
    }

    /// <summary>Ends every partition, one-way cut and split.</summary>
    public void HealAll()
    {
        NetworkSplit[] splits;
        lock (_lock)
        {
            _cut.Clear();
            _oneWay.Clear();
            splits = [.. _activeSplits.Values];
        }

        foreach (var split in splits)
        {
            Heal(split);
        }
    }

    /// <summary>
    /// Cuts the endpoints of <paramref name="side"/> off from every other endpoint, both ways, datagrams and
    /// streams alike: they still reach each other. With <paramref name="duration"/> the split heals by itself
    /// that long from now (on the network's clock); otherwise, or earlier, <see cref="Heal(NetworkSplit)"/> heals it.
    /// An endpoint is on the cut-off side of at most one split at a time.
    /// </summary>
    public NetworkSplit Split(IEnumerable<InMemoryEndPoint> side, TimeSpan? duration = null)
    {
        ArgumentNullException.ThrowIfNull(side);
        if (duration is { } d && d <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), d, "A split lasts a positive time.");
        }

        var members = side.Select(e => e.Address).Distinct().ToArray();
        NetworkSplit split;
        lock (_lock)
        {
            foreach (var m in members)
            {
                if (_side.ContainsKey(m))
                {
                    throw new ArgumentException($"{new InMemoryEndPoint(m)} is already cut off by another split.", nameof(side));
                }
            }

            split = new NetworkSplit(++_splits, members);
            _activeSplits[split.Id] = split;
            foreach (var m in members)
            {
                _side[m] = split.Id;
            }
        }

        if (duration is { } after)
        {
            split.HealTimer = _executor.CreateTimer(_time, s => Heal((NetworkSplit)s!), split, after, Timeout.InfiniteTimeSpan);
        }

        return split;
    }

    /// <summary>Ends <paramref name="split"/>: its endpoints reach everything again. Healing twice does nothing.</summary>
    public void Heal(NetworkSplit split)
    {
        ArgumentNullException.ThrowIfNull(split);
        lock (_lock)
        {
            if (split.Healed)
            {
                return;
            }

            split.Healed = true;
            _activeSplits.Remove(split.Id);
            foreach (var m in split.Members)
            {
                if (_side.TryGetValue(m, out var id) && id == split.Id)
                {
                    _side.Remove(m);
                }
            }
        }

        split.HealTimer?.Dispose();
    }

    /// <summary>False while a partition or split separates <paramref name="a"/> and <paramref name="b"/>.</summary>
    public bool CanReach(InMemoryEndPoint a, InMemoryEndPoint b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        lock (_lock)
        {
            return !Separated(a.Address, b.Address);
        }
    }

    /// <summary>
    /// The machine at <paramref name="address"/> loses power: it sends and receives nothing from now on and its
    /// streams break without a close, so peers learn of it only by silence.
    /// </summary>
    public void Crash(InMemoryEndPoint address)
    {
        lock (_lock)
        {
            if (_transports.TryGetValue(address.Address, out var t))
            {
                t.Crashed = true;
            }
        }
    }

    private static (UInt128, UInt128) Key(UInt128 a, UInt128 b) => a < b ? (a, b) : (b, a);

    private bool Reachable(InMemoryTransport from, UInt128 to, out InMemoryTransport? target)
    {
        target = null;
        return !from.Crashed
            && _transports.TryGetValue(to, out target)
            && !target.Crashed
            && !Separated(from.Address.Address, to)
            && (_oneWay.Count == 0 || !_oneWay.Contains((from.Address.Address, to)));
    }

    private bool Separated(UInt128 a, UInt128 b)
    {
        if (_side.Count > 0 && SideOf(a) != SideOf(b))
        {
            return true;
        }

        return _cut.Count > 0 && _cut.Contains(Key(a, b));
    }

    private int SideOf(UInt128 address) => _side.TryGetValue(address, out var id) ? id : 0;

    internal void SendDatagram(InMemoryTransport from, EndPoint remote, ReadOnlySpan<byte> datagram)
    {
        if (remote is not InMemoryEndPoint to)
        {
            throw new ArgumentException($"The in-memory network cannot reach {remote}.", nameof(remote));
        }

        lock (_lock)
        {
            Tap?.Invoke(from.Address, to, datagram);
            var c = _conditions;
            if (from.Crashed || (c.Loss > 0 && _random.NextDouble() < c.Loss))
            {
                Lost++;
                return;
            }

            var copies = c.Duplicate > 0 && _random.NextDouble() < c.Duplicate ? 2 : 1;
            Duplicated += copies - 1;
            for (var i = 0; i < copies; i++)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, datagram.Length));
                datagram.CopyTo(buffer);
                var delay = c.Latency.Ticks;
                if (c.Jitter > TimeSpan.Zero)
                {
                    delay += (long)(_random.NextDouble() * c.Jitter.Ticks);
                }

                if (c.Reorder > 0 && _random.NextDouble() < c.Reorder)
                {
                    delay += c.HoldBack(_random.NextDouble()).Ticks;
                }

                Enqueue(new Delivery(DeliveryKind.Datagram, from, to.Address, null, buffer, datagram.Length), delay);
            }
        }
    }

    internal InMemoryConnection Connect(InMemoryTransport from, EndPoint remote, object? tag)
    {
        if (remote is not InMemoryEndPoint to)
        {
            throw new ArgumentException($"The in-memory network cannot reach {remote}.", nameof(remote));
        }

        var conn = new InMemoryConnection(from, to, outbound: true) { Tag = tag };
        lock (_lock)
        {
            Enqueue(new Delivery(DeliveryKind.Connect, from, to.Address, conn, null, 0), _conditions.Latency.Ticks);
        }

        return conn;
    }

    internal bool SendFrame(InMemoryConnection conn, ReadOnlySpan<byte> frame)
    {
        lock (_lock)
        {
            if (conn.Closed)
            {
                return false;
            }

            if (conn.Broken || conn.Peer is null)
            {
                Lost++;
                return true;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, frame.Length));
            frame.CopyTo(buffer);

            // Frames of one stream arrive in order: never before the previous one.
            var due = Math.Max(_time.GetUtcNow().UtcTicks + _conditions.Latency.Ticks, conn.LastDue);
            conn.LastDue = due;
            Enqueue(new Delivery(DeliveryKind.Frame, conn.Owner, conn.Peer.Owner.Address.Address, conn.Peer, buffer, frame.Length), due - _time.GetUtcNow().UtcTicks);
            return true;
        }
    }

    internal void Close(InMemoryConnection conn)
    {
        lock (_lock)
        {
            if (conn.Closed)
            {
                return;
            }

            conn.Closed = true;
            if (conn.Peer is { } peer && !conn.Broken && !conn.Owner.Crashed)
            {
                var due = Math.Max(_time.GetUtcNow().UtcTicks + _conditions.Latency.Ticks, conn.LastDue);
                Enqueue(new Delivery(DeliveryKind.Close, conn.Owner, peer.Owner.Address.Address, peer, null, 0), due - _time.GetUtcNow().UtcTicks);
            }
        }
    }

    private void Enqueue(Delivery delivery, long delayTicks)
    {
        var due = _time.GetUtcNow().UtcTicks + Math.Max(0, delayTicks);
        _queue.Enqueue(delivery, (due, ++_seq));
        if (due < _armedDue)
        {
            _armedDue = due;
            _timer.Change(TimeSpan.FromTicks(due - _time.GetUtcNow().UtcTicks), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        while (true)
        {
            Delivery d;
            InMemoryTransport? target;
            lock (_lock)
            {
                var now = _time.GetUtcNow().UtcTicks;
                if (!_queue.TryPeek(out d, out var p) || p.Due > now)
                {
                    _armedDue = _queue.TryPeek(out _, out p) ? p.Due : long.MaxValue;
                    if (_armedDue != long.MaxValue)
                    {
                        _timer.Change(TimeSpan.FromTicks(_armedDue - now), Timeout.InfiniteTimeSpan);
                    }

                    return;
                }

                _queue.Dequeue();
                if (!Reachable(d.From, d.To, out target))
                {
                    Lost++;
                    if (d.Connection is { } c)
                    {
                        c.Broken = true;
                        c.Peer?.Broken = true;
                    }

                    if (d.Buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(d.Buffer);
                    }

                    // A refused connection (nothing attached there at all) fails at once, as a TCP RST would.
                    if (d.Kind == DeliveryKind.Connect && !_transports.ContainsKey(d.To))
                    {
                        target = null;
                        d.Connection!.Closed = true;
                        Enqueue(new Delivery(DeliveryKind.Refused, d.From, d.From.Address.Address, d.Connection, null, 0), _conditions.Latency.Ticks);
                    }

                    continue;
                }

                Delivered++;
            }

            Deliver(d, target!);
        }
    }

    private void Deliver(in Delivery d, InMemoryTransport target)
    {
        switch (d.Kind)
        {
            case DeliveryKind.Datagram:
                try
                {
                    target.Handler?.OnDatagram(d.Buffer.AsSpan(0, d.Length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(d.Buffer!);
                }

                break;
            case DeliveryKind.Frame:
                try
                {
                    if (!d.Connection!.Closed)
                    {
                        target.Handler?.OnFrame(d.Connection, d.Buffer.AsSpan(0, d.Length));
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(d.Buffer!);
                }

                break;
            case DeliveryKind.Connect:
                {
                    var client = d.Connection!;
                    if (client.Closed)
                    {
                        break;
                    }

                    var server = new InMemoryConnection(target, (InMemoryEndPoint)d.From.LocalEndPoint, outbound: false) { Peer = client };
                    lock (_lock)
                    {
                        Enqueue(new Delivery(DeliveryKind.Established, target, d.From.Address.Address, client, null, 0), _conditions.Latency.Ticks);
                        client.PendingPeer = server;
                    }

                    target.Handler?.OnConnected(server);
                    break;
                }

            case DeliveryKind.Established:
                if (!d.Connection!.Closed)
                {
                    d.Connection.Peer = d.Connection.PendingPeer;
                    target.Handler?.OnConnected(d.Connection);
                }

                break;
            case DeliveryKind.Close:
                if (!d.Connection!.Closed)
                {
                    d.Connection.Closed = true;
                    target.Handler?.OnClosed(d.Connection, null);
                }

                break;
            case DeliveryKind.Refused:
                target.Handler?.OnClosed(d.Connection!, new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused));
                break;
        }
    }

    private enum DeliveryKind : byte
    {
        Datagram,
        Frame,
        Connect,
        Established,
        Close,
        Refused,
    }

    private readonly record struct Delivery(DeliveryKind Kind, InMemoryTransport From, UInt128 To, InMemoryConnection? Connection, byte[]? Buffer, int Length);
}

/// <summary>Receives a copy of each datagram sent on an <see cref="InMemoryNetwork"/>.</summary>
public delegate void DatagramTap(InMemoryEndPoint from, InMemoryEndPoint to, ReadOnlySpan<byte> datagram);

/// <summary>One node's attachment to an <see cref="InMemoryNetwork"/>.</summary>
public sealed class InMemoryTransport : ISyncTransport
{
    private readonly InMemoryNetwork _network;

    internal InMemoryTransport(InMemoryNetwork network, InMemoryEndPoint address, int maxDatagramSize)
    {
        _network = network;
        Address = address;
        MaxDatagramSize = maxDatagramSize;
    }

    public InMemoryEndPoint Address { get; }

    public EndPoint LocalEndPoint => Address;

    public int MaxDatagramSize { get; }

    public int DatagramPort => 0;

    internal ISyncTransportHandler? Handler { get; private set; }

    /// <summary>True once the network crashed this attachment.</summary>
    public bool Crashed { get; internal set; }

    public void Start(ISyncTransportHandler handler) => Handler = handler ?? throw new ArgumentNullException(nameof(handler));

    public void SendDatagram(EndPoint remote, ReadOnlySpan<byte> datagram) => _network.SendDatagram(this, remote, datagram);

    public IFrameConnection Connect(EndPoint remote, object? tag) => _network.Connect(this, remote, tag);

    public EndPoint DatagramEndPointOf(IFrameConnection connection, int port) => connection.RemoteEndPoint;

    internal bool Send(InMemoryConnection connection, ReadOnlySpan<byte> frame) => _network.SendFrame(connection, frame);

    internal void Close(InMemoryConnection connection) => _network.Close(connection);

    public ValueTask DisposeAsync()
    {
        Handler = null;
        return ValueTask.CompletedTask;
    }
}

internal sealed class InMemoryConnection(InMemoryTransport owner, InMemoryEndPoint remote, bool outbound) : IFrameConnection
{
    public InMemoryTransport Owner { get; } = owner;

    public EndPoint RemoteEndPoint { get; } = remote;

    public object? Tag { get; set; }

    public bool IsOutbound { get; } = outbound;

    public InMemoryConnection? Peer { get; set; }

    public InMemoryConnection? PendingPeer { get; set; }

    public bool Closed { get; set; }

    public bool Broken { get; set; }

    public long LastDue { get; set; }

    public bool Send(ReadOnlySpan<byte> frame) => Owner.Send(this, frame);

    public void Close() => Owner.Close(this);
}
