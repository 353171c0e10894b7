// The sync transport on real sockets: UDP datagrams and TCP streams on one port, streams on System.IO.Pipelines.
using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Kraken.Net.Sync;

namespace Kraken.Net.Transport;

/// <summary>
/// Binds a UDP socket and a TCP listener to the same address and port (port 0 picks a free one for both).
/// Datagrams are received into one reused buffer and handed to the handler without allocating; each TCP
/// connection has a canonical pipe read loop that cuts frames with <see cref="FrameCodec.TryReadFrame"/> and a
/// writer loop fed by a channel, so sends never block the caller. Inbound streams are held to
/// <see cref="SocketTransportLimits"/> before their peer has proven anything: how many, how long until the first
/// frame, how long idle, and how large a frame they may announce.
/// </summary>
public sealed class SocketTransport : ISyncTransport
{
    private readonly Socket _udp;
    private readonly Socket _listener;
    private readonly int _maxFrame;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<EndPoint, SocketAddress> _addresses = new();
    private readonly ConcurrentDictionary<SocketConnection, byte> _connections = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perSource = new();
    private readonly long[] _lastFault = new long[2];
    private readonly IDisposable _drops;
    private ISyncTransportHandler? _handler;
    private Task _udpLoop = Task.CompletedTask;
    private Task _acceptLoop = Task.CompletedTask;

    /// <param name="bind">Address and port to bind (port 0: any free port, the same for UDP and TCP).</param>
    /// <param name="maxPayload">Largest frame payload accepted on a stream; longer frames close the stream.</param>
    /// <param name="maxDatagramSize">Largest datagram sent; 1400 stays under a 1500-byte MTU.</param>
    /// <param name="limits">Limits on inbound streams (null: the defaults).</param>
    public SocketTransport(IPEndPoint bind, int maxPayload = 32 << 20, int maxDatagramSize = 1400, SocketTransportLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(bind);
        Limits = limits ?? new SocketTransportLimits();
        Limits.Validate();
        _maxFrame = maxPayload;
        MaxDatagramSize = maxDatagramSize;
        (_listener, _udp) = BindPair(bind);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _drops = SocketDrops.Register("sync", LocalEndPoint.ToString()!, () => ReceiveDrops);
    }

    public EndPoint LocalEndPoint { get; }

    public SocketTransportLimits Limits { get; }

    public SocketTransportCounters Counters { get; } = new();

    public int MaxDatagramSize { get; }

    public int DatagramPort => ((IPEndPoint)LocalEndPoint).Port;

    /// <summary>Datagrams the kernel dropped because the UDP socket's receive buffer was full (a running total).</summary>
    public long ReceiveDrops => SocketDrops.Read(_udp) ?? 0;

    private static (Socket Listener, Socket Udp) BindPair(IPEndPoint bind)
    {
        // With port 0 the kernel picks the TCP port; the same UDP port may be taken, so try a few times.
        for (var attempt = 0; ; attempt++)
        {
            var listener = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            var udp = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                listener.Bind(bind);
                udp.Bind(new IPEndPoint(bind.Address, ((IPEndPoint)listener.LocalEndPoint!).Port));
                listener.Listen(512);
                return (listener, udp);
            }
            catch (SocketException) when (bind.Port == 0 && attempt < 20)
            {
                listener.Dispose();
                udp.Dispose();
            }
            catch
            {
                listener.Dispose();
                udp.Dispose();
                throw;
            }
        }
    }

    public void Start(ISyncTransportHandler handler)
    {
        _handler = handler ?? throw new ArgumentNullException(nameof(handler));
        _udpLoop = Task.Run(ReceiveDatagramsAsync);
        _acceptLoop = Task.Run(AcceptAsync);
    }

    public void SendDatagram(EndPoint remote, ReadOnlySpan<byte> datagram)
    {
        var address = _addresses.GetOrAdd(remote, static r => r.Serialize());
        try
        {
            _udp.SendTo(datagram, SocketFlags.None, address);
        }
        catch (SocketException)
        {
            // A datagram is allowed to be lost; the protocol repairs it.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// How a <see cref="DnsEndPoint"/> (a <see cref="HostEndPoint"/>) is resolved: <see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>
    /// unless replaced (tests).
    /// </summary>
    public Func<string, CancellationToken, Task<IPAddress[]>> Resolve { get; init; } = Dns.GetHostAddressesAsync;

    /// <summary>
    /// Opens a stream to <paramref name="remote"/>. A host name is resolved on each call, to an address of this
    /// transport's family (the first the resolver lists); a name that does not resolve closes the connection with the
    /// resolver's error, as a refused connect does.
    /// </summary>
    public IFrameConnection Connect(EndPoint remote, object? tag)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var family = remote is DnsEndPoint ? _listener.AddressFamily : remote.AddressFamily;
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var conn = new SocketConnection(this, socket, remote, outbound: true) { Tag = tag };
        _ = ConnectAsync(conn, remote);
        return conn;
    }

    public EndPoint DatagramEndPointOf(IFrameConnection connection, int port) =>
        connection.RemoteEndPoint is IPEndPoint ip ? new IPEndPoint(ip.Address, port) : throw new ArgumentException("Not a socket connection.", nameof(connection));

    private async Task ConnectAsync(SocketConnection conn, EndPoint remote)
    {
        try
        {
            if (remote is DnsEndPoint name)
            {
                remote = await ResolveAsync(name).ConfigureAwait(false);
                conn.RemoteEndPoint = remote;
            }

            await conn.Socket.ConnectAsync(remote, _stop.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // any failure to connect is reported to the handler
        catch (Exception ex)
#pragma warning restore CA1031
        {
            conn.Socket.Dispose();
            _handler?.OnClosed(conn, ex);
            return;
        }

        Run(conn);
    }

    private async Task<IPEndPoint> ResolveAsync(DnsEndPoint name)
    {
        var family = _listener.AddressFamily;
        foreach (var address in await Resolve(name.Host, _stop.Token).ConfigureAwait(false))
        {
            if (address.AddressFamily == family)
            {
                return new IPEndPoint(address, name.Port);
            }
        }

        throw new SocketException((int)SocketError.HostNotFound, $"{name.Host} has no {(family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} address");
    }

    private async Task AcceptAsync()
    {
        var backoff = TimeSpan.Zero;
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
                backoff = TimeSpan.Zero;
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors (EMFILE, ENFILE) the pending connection stays queued and accept fails again at
                // once: back off (up to a second) instead of spinning, and say so.
                var exhausted = ex.SocketErrorCode is SocketError.TooManyOpenSockets || ex.ErrorCode is 23 or 24;
                Counters.OnAcceptError(exhausted ? "fd_exhausted" : "other");
                Fault(exhausted ? 0 : 1, exhausted
                    ? $"cannot accept sync streams: no file descriptor left ({ex.Message}); {Counters.OpenInbound} inbound streams open, retrying with back-off"
                    : $"accept failed: {ex.Message} ({ex.SocketErrorCode})");
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.TicksPerSecond));
                try
                {
                    await Task.Delay(backoff, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (Admit(socket) is { } refused)
            {
                Counters.OnCut(refused);
                Reset(socket);
                continue;
            }

            socket.NoDelay = true;
            Run(new SocketConnection(this, socket, socket.RemoteEndPoint!, outbound: false) { Source = SourceOf(socket.RemoteEndPoint) });
        }
    }

    /// <summary>Counts the stream in, or says why it is refused (nothing counted then).</summary>
    private StreamCut? Admit(Socket socket)
    {
        if (Counters.OpenInbound >= Limits.MaxStreams)
        {
            return StreamCut.Limit;
        }

        var source = SourceOf(socket.RemoteEndPoint);
        var count = _perSource.AddOrUpdate(source, 1, static (_, n) => n + 1);
        if (count > Limits.MaxStreamsPerSource)
        {
            Release(source);
            return StreamCut.SourceLimit;
        }

        Counters.Opened();
        return null;
    }

    private static IPAddress SourceOf(EndPoint? remote)
    {
        var address = (remote as IPEndPoint)?.Address ?? IPAddress.None;
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    private void Release(IPAddress source)
    {
        while (_perSource.TryGetValue(source, out var n))
        {
            if (n <= 1 ? _perSource.TryRemove(KeyValuePair.Create(source, n)) : _perSource.TryUpdate(source, n - 1, n))
            {
                return;
            }
        }
    }

    /// <summary>Closes a refused stream with a reset: nothing is sent and no TIME_WAIT is kept for it.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }

        socket.Dispose();
    }

    private void Fault(int kind, string message)
    {
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _lastFault[kind]);
        if ((last == 0 || now - last >= 60_000) && Interlocked.CompareExchange(ref _lastFault[kind], now, last) == last)
        {
            _handler?.OnTransportFault(message);
        }
    }

    private void Run(SocketConnection conn)
    {
        _connections[conn] = 0;
        conn.Start(_maxFrame, conn.IsOutbound ? null : Limits);
        _handler?.OnConnected(conn);
    }

    /// <summary>Asks the handler whether <paramref name="conn"/> may deliver a frame above the unauthenticated limit from <paramref name="sender"/>.</summary>
    internal bool AdmitsLargeFrame(SocketConnection conn, UInt128 sender) => _handler?.AdmitsLargeFrame(conn.RemoteEndPoint, sender) ?? false;

    private async Task ReceiveDatagramsAsync()
    {
        // One buffer and one address object for the life of the socket: receiving allocates nothing.
        var buffer = GC.AllocateArray<byte>(65536, pinned: true);
        var from = new SocketAddress(_udp.AddressFamily);
        while (!_stop.IsCancellationRequested)
        {
            int n;
            try
            {
                n = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, from, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // ICMP port unreachable from an earlier send surfaces here on Linux; keep receiving.
                continue;
            }

            _handler?.OnDatagram(buffer.AsSpan(0, n));
        }
    }

    internal void Closed(SocketConnection conn, Exception? error)
    {
        if (_connections.TryRemove(conn, out _))
        {
            if (conn.Source is { } source)
            {
                Release(source);
                Counters.Closed();
            }

            _handler?.OnClosed(conn, error);
        }
    }

    internal void Frame(SocketConnection conn, ReadOnlySpan<byte> frame) => _handler?.OnFrame(conn, frame);

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _handler = null;
        await _stop.CancelAsync().ConfigureAwait(false);
        _drops.Dispose();
        _listener.Dispose();
        _udp.Dispose();
        foreach (var c in _connections.Keys)
        {
            c.Close();
        }

        try
        {
            await Task.WhenAll(_udpLoop, _acceptLoop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

/// <summary>One TCP stream: a pipe read loop that cuts frames, and a writer loop that drains a channel.</summary>
internal sealed class SocketConnection(SocketTransport owner, Socket socket, EndPoint remote, bool outbound) : IFrameConnection
{
    private readonly Channel<(byte[] Buffer, int Length)> _out = Channel.CreateUnbounded<(byte[], int)>(new UnboundedChannelOptions { SingleReader = true });
    private int _closed;

    public Socket Socket { get; } = socket;

    /// <summary>The peer; for a stream opened to a host name, the address it resolved to once resolved.</summary>
    public EndPoint RemoteEndPoint { get; set; } = remote;

    public object? Tag { get; set; }

    public bool IsOutbound { get; } = outbound;

    /// <summary>The peer's address, counted against the per-source limit (inbound streams only).</summary>
    public IPAddress? Source { get; init; }

    /// <param name="maxPayload">Largest frame payload accepted at all.</param>
    /// <param name="limits">For an inbound stream, the limits it is held to; null for one this side opened.</param>
    public void Start(int maxPayload, SocketTransportLimits? limits)
    {
        var stream = new NetworkStream(Socket, ownsSocket: false);
        _ = ReadLoopAsync(PipeReader.Create(stream), maxPayload, limits);
        _ = WriteLoopAsync(PipeWriter.Create(stream));
    }

    public bool Send(ReadOnlySpan<byte> frame)
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return false;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(frame.Length);
        frame.CopyTo(buffer);
        if (!_out.Writer.TryWrite((buffer, frame.Length)))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return false;
        }

        return true;
    }

    /// <summary>Graceful close: frames already queued are written first, then the socket closes.</summary>
    public void Close() => _out.Writer.TryComplete();

    private void Shutdown(Exception? error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _out.Writer.TryComplete();
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        Socket.Dispose();
        owner.Closed(this, error);
    }

    private async Task ReadLoopAsync(PipeReader reader, int maxPayload, SocketTransportLimits? limits)
    {
        Exception? error = null;

        // Inbound: the first whole frame within the handshake timeout, each later one within the idle timeout (a
        // neighbour's admitted large frame: the idle timeout counts from its last progress).
        using var deadline = limits is null ? null : new CancellationTokenSource(limits.HandshakeTimeout);
        var frames = 0;
        var largeAdmitted = false;
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await reader.ReadAsync(deadline?.Token ?? default).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline is { IsCancellationRequested: true })
                {
                    var why = frames == 0 ? StreamCut.HandshakeTimeout : StreamCut.IdleTimeout;
                    owner.Counters.OnCut(why);
                    error = new SyncProtocolException(DropReason.Malformed, $"stream closed: {SocketTransportCounters.Name(why)}");
                    break;
                }

                if (largeAdmitted)
                {
                    deadline!.CancelAfter(limits!.IdleTimeout);
                }

                var buffer = result.Buffer;
                try
                {
                    while (true)
                    {
                        if (limits is not null && !largeAdmitted && buffer.Length >= FrameHeader.Size)
                        {
                            var header = PeekHeader(buffer, maxPayload);
                            if (header.PayloadLength > limits.UnauthenticatedFrameLimit)
                            {
                                if (!await WaitForAdmissionAsync(header.Sender, deadline!.Token).ConfigureAwait(false))
                                {
                                    owner.Counters.OnCut(StreamCut.Oversize);
                                    throw new SyncProtocolException(DropReason.Oversize,
                                        $"a {header.PayloadLength}-byte frame announced by {RemoteEndPoint}, which is no neighbour of this node (limit {limits.UnauthenticatedFrameLimit} bytes before authentication)");
                                }

                                largeAdmitted = true;
                                deadline.CancelAfter(limits.IdleTimeout);
                            }
                        }

                        if (!FrameCodec.TryReadFrame(ref buffer, maxPayload, out _, out var frame))
                        {
                            break;
                        }

                        Deliver(frame);
                        frames++;
                        largeAdmitted = false;
                        deadline?.CancelAfter(limits!.IdleTimeout);
                    }

                    if (result.IsCompleted)
                    {
                        if (!buffer.IsEmpty)
                        {
                            error = new SyncProtocolException(DropReason.Malformed, $"The stream ended inside a frame ({buffer.Length} bytes left).");
                        }

                        break;
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
#pragma warning disable CA1031 // a broken or hostile stream closes this connection, never the daemon
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = ex;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            Shutdown(error);
        }
    }

    private static FrameHeader PeekHeader(in ReadOnlySequence<byte> buffer, int maxPayload)
    {
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(header);
        return FrameHeader.Read(header, maxPayload);
    }

    /// <summary>
    /// Whether the sender may send this large frame: a neighbour up at this address. A bulk frame can overtake the
    /// join that makes its sender a neighbour here, so the answer is asked again for a while (nothing is read
    /// meanwhile: the peer's window fills, no memory grows) until the stream's deadline.
    /// </summary>
    private async Task<bool> WaitForAdmissionAsync(UInt128 sender, CancellationToken deadline)
    {
        for (var waited = 0; !owner.AdmitsLargeFrame(this, sender); waited += 50)
        {
            if (waited >= AdmissionWaitMs)
            {
                return false;
            }

            try
            {
                await Task.Delay(50, deadline).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>How long a large frame's sender may take to become a neighbour: a join in flight completes in far less.</summary>
    private const int AdmissionWaitMs = 2000;

    private void Deliver(in ReadOnlySequence<byte> frame)
    {
        if (frame.IsSingleSegment)
        {
            owner.Frame(this, frame.FirstSpan);
            return;
        }

        var length = (int)frame.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            frame.CopyTo(rented);
            owner.Frame(this, rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private async Task WriteLoopAsync(PipeWriter writer)
    {
        try
        {
            var reader = _out.Reader;
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // Write everything queued, then flush once.
                while (reader.TryRead(out var item))
                {
                    writer.Write(item.Buffer.AsSpan(0, item.Length));
                    ArrayPool<byte>.Shared.Return(item.Buffer);
                }

                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted)
                {
                    break;
                }
            }
        }
#pragma warning disable CA1031 // a write failure closes this connection only
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Shutdown(ex);
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
            Shutdown(null);
        }
    }
}
