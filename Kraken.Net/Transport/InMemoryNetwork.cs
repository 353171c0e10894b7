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

    /// <summary>Probability that a datagram is held back by one to two extra latencies, so later ones overtake it.</summary>
    public double Reorder { get; init; }

    public static NetworkConditions Perfect { get; } = new();

    public void Validate()
    {
        if (Latency < TimeSpan.Zero || Jitter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Latency), "Latency and Jitter must not be negative.");
        }

        foreach (var (name, p) in new[] { (nameof(Loss), Loss), (nameof(Duplicate), Duplicate), (nameof(Reorder), Reorder) })
        {
            if (p is < 0 or > 1 || double.IsNaN(p))
            {
                throw new ArgumentOutOfRangeException(name, p, $"{name} is a probability in [0, 1].");
            }
        }
    }
}

/// <summary>
/// Carries datagrams and framed streams between <see cref="InMemoryTransport"/>s. Everything is driven by the
/// injected clock and executor and a seeded random generator, so a run is reproducible. Pending deliveries sit
/// in one priority queue with one armed timer for the earliest; payloads travel in pooled buffers.
/// Streams are reliable and ordered (no loss, duplication or reordering); a stream frame that meets a
/// partition or a crashed peer breaks the stream silently, as a TCP connection that will time out.
/// </summary>
public sealed class InMemoryNetwork
{
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Lock _lock = new();
    private readonly PriorityQueue<Delivery, (long Due, long Seq)> _queue = new();
    private readonly Dictionary<UInt128, InMemoryTransport> _transports = [];
    private readonly HashSet<(UInt128, UInt128)> _cut = [];
    private readonly ITimer _timer;
    private NetworkConditions _conditions = NetworkConditions.Perfect;
    private long _seq;
    private long _armedDue = long.MaxValue;

    public InMemoryNetwork(TimeProvider time, ISerialExecutor executor, int seed)
    {
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentNullException.ThrowIfNull(executor);
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

    public void Heal(InMemoryEndPoint a, InMemoryEndPoint b)
    {
        lock (_lock)
        {
            _cut.Remove(Key(a.Address, b.Address));
        }
    }

    public void HealAll()
    {
        lock (_lock)
        {
            _cut.Clear();
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
            && !_cut.Contains(Key(from.Address.Address, to));
    }

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
                    delay += c.Latency.Ticks + (long)(_random.NextDouble() * Math.Max(c.Latency.Ticks, TimeSpan.TicksPerMillisecond));
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
