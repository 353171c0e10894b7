// The TFTP server: one socket receives requests; each read runs on its own ephemeral port, asynchronously.
using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Kraken.Modules.Pxe.Tftp.Internal;
using Kraken.Net.Transport;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Pxe.Tftp;

/// <summary>
/// A read-only TFTP server (RFC 1350) with options (RFC 2347), blksize (2348), tsize and timeout (2349) and
/// windowsize (7440). Each transfer is an async loop on its own UDP socket: no thread per transfer.
/// </summary>
public sealed class TftpServer : IAsyncDisposable
{
    private const int SolSocket = 1;        // SOL_SOCKET
    private const int SoRcvBufForce = 33;   // SO_RCVBUFFORCE
    private const int RequestBufferSize = 65536;
    private const int ListenReceiveBuffer = 4 << 20;   // a burst of thousands of requests must not overflow it

    private readonly ConcurrentDictionary<SocketAddress, TftpSession> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();                      // the slots, the unproven transfers and their sources
    private readonly LinkedList<TftpSession> _unproven = new();   // without their first ACK, oldest first
    private readonly Dictionary<IPAddress, int> _unprovenBySource = [];
    private int _slots;                                        // transfers holding a slot (evicted ones do not)
    private int _unprovenCount;
    private Socket? _listener;
    private IDisposable? _listenerDrops;
    private Task? _loop;
    private IPEndPoint? _localEndPoint;
    private int _disposed;

    public TftpServer(TftpServerOptions options, ITftpFileSource files, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        Options = options;
        Files = files;
        Time = time;
        Logger = logger;
    }

    /// <summary>Raised when a transfer ends, completed or not (not for requests refused before a transfer began).</summary>
    public event Action<TftpTransfer>? TransferFinished;

    public TftpCounters Counters { get; } = new();

    /// <summary>The bound endpoint (with the actual port when <see cref="TftpServerOptions.Endpoint"/> had port 0).</summary>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("The TFTP server is not started.");

    internal TftpServerOptions Options { get; }

    internal ITftpFileSource Files { get; }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    /// <summary>Requests the kernel dropped because the request socket's receive buffer was full (a running total).</summary>
    public long ReceiveDrops => _listener is { } socket ? SocketDrops.Read(socket) ?? 0 : 0;

    /// <summary>Binds the request socket and starts receiving; returns once listening.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Options.Validate();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_listener is not null)
        {
            throw new InvalidOperationException("The TFTP server is already started.");
        }

        var socket = new Socket(Options.Endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(Options.Endpoint);
            SetReceiveBuffer(socket, ListenReceiveBuffer);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _listener = socket;
        _localEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _listenerDrops = SocketDrops.Register("tftp", _localEndPoint.ToString(), () => ReceiveDrops);
        TftpLog.Listening(Logger, _localEndPoint);
        _loop = Task.Run(() => ListenAsync(socket, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _listenerDrops?.Dispose();
        _listener?.Dispose();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        var running = _sessions.Values.ToArray();
        foreach (var s in running)
        {
            s.Abort();
        }

        foreach (var s in running)
        {
            if (s.Task is { } t)
            {
                await t.ConfigureAwait(false);
            }
        }

        _stop.Dispose();
    }

    private async Task ListenAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(RequestBufferSize);
        var from = new SocketAddress(socket.AddressFamily);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                int n;
                try
                {
                    n = await socket.ReceiveFromAsync(buffer, SocketFlags.None, from, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (SocketException e)
                {
                    TftpLog.ReceiveFailed(Logger, e, LocalEndPoint);
                    continue;
                }

                try
                {
                    await HandleRequestAsync(socket, buffer.AsMemory(0, n), from).ConfigureAwait(false);
                }
                catch (SocketException e)
                {
                    // An answer we could not send (an unreachable client): the next request is unaffected.
                    TftpLog.ReceiveFailed(Logger, e, LocalEndPoint);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask HandleRequestAsync(Socket socket, ReadOnlyMemory<byte> packet, SocketAddress from)
    {
        if (!TftpWire.TryReadOpcode(packet.Span, out var opcode))
        {
            Drop(from, TftpDropReason.Truncated);
            return;
        }

        switch (opcode)
        {
            case TftpOpcode.ReadRequest:
                break;
            case TftpOpcode.WriteRequest:
                Drop(from, TftpDropReason.WriteRequest);
                await ReplyErrorAsync(socket, from, TftpErrorCode.AccessViolation, "Read-only server").ConfigureAwait(false);
                return;
            case TftpOpcode.Error:
                Drop(from, TftpDropReason.UnexpectedOpcode);   // never answer an ERROR
                return;
            case TftpOpcode.Data or TftpOpcode.Ack or TftpOpcode.OptionAck:
                Drop(from, TftpDropReason.UnexpectedOpcode);
                await ReplyErrorAsync(socket, from, TftpErrorCode.IllegalOperation, "Illegal TFTP operation").ConfigureAwait(false);
                return;
            default:
                Drop(from, TftpDropReason.UnknownOpcode);
                await ReplyErrorAsync(socket, from, TftpErrorCode.IllegalOperation, "Illegal TFTP operation").ConfigureAwait(false);
                return;
        }

        if (!TftpWire.TryParseRequest(packet.Span, out var request, out var reason, out var detail))
        {
            Drop(from, reason);
            var code = reason == TftpDropReason.BadOption ? TftpErrorCode.OptionNegotiation : TftpErrorCode.IllegalOperation;
            await ReplyErrorAsync(socket, from, code, detail).ConfigureAwait(false);
            return;
        }

        if (_sessions.TryGetValue(from, out var running))
        {
            // The client repeated its request: our first answer was lost, or has not reached it yet. A transfer
            // still waiting for its first ACK sends that answer again (a bounded number of times); one under way
            // carries on by itself.
            Drop(from, TftpDropReason.DuplicateRequest);
            await running.RepeatFirstAsync().ConfigureAwait(false);
            return;
        }

        var client = Copy(from);
        var clientEndPoint = (IPEndPoint)Options.Endpoint.Create(client);
        var admission = Admit(clientEndPoint.Address, out var evicted);
        if (evicted is not null)
        {
            Evict(evicted);
        }

        if (admission == TftpDropReason.ClientLimit)
        {
            // Unanswered: an address that floods us, or whose address is forged, gets nothing more.
            Drop(from, TftpDropReason.ClientLimit);
            return;
        }

        if (admission == TftpDropReason.Busy)
        {
            Drop(from, TftpDropReason.Busy);
            await ReplyErrorAsync(socket, from, TftpErrorCode.NotDefined, "Server busy").ConfigureAwait(false);
            return;
        }

        var local = Options.Endpoint.Address;
        TftpSession session;
        try
        {
            session = new TftpSession(this, request!, client, clientEndPoint, local);
        }
        catch (SocketException)
        {
            // No port or descriptor left for a transfer socket: the client may try again later.
            Release(clientEndPoint.Address);
            Drop(from, TftpDropReason.Busy);
            await ReplyErrorAsync(socket, from, TftpErrorCode.NotDefined, "Server busy").ConfigureAwait(false);
            return;
        }

        if (!_sessions.TryAdd(client, session))
        {
            Release(clientEndPoint.Address);
            Drop(from, TftpDropReason.DuplicateRequest);
            session.Abort();
            return;
        }

        lock (_gate)
        {
            session.UnprovenNode = _unproven.AddLast(session);
        }

        Counters.Request();
        session.Task = Task.Run(() => RunSessionAsync(session, client), CancellationToken.None);
    }

    // Takes a transfer slot and an unproven slot for a request from source, or says why not. When the server is
    // full, the oldest transfer still waiting for its first ACK gives up its slot (the caller ends it): a flood
    // of requests that are never acknowledged cannot keep out a client that answers, nor acknowledged transfers.
    private TftpDropReason? Admit(IPAddress source, out TftpSession? evicted)
    {
        evicted = null;
        lock (_gate)
        {
            _unprovenBySource.TryGetValue(source, out var fromSource);
            if (fromSource >= Options.MaxUnprovenPerClient)
            {
                return TftpDropReason.ClientLimit;
            }

            if (_slots >= Options.MaxTransfers || _unprovenCount >= Options.MaxUnproven)
            {
                if (_unproven.First is not { } oldest)
                {
                    return TftpDropReason.Busy;
                }

                evicted = oldest.Value;
                Unlink(evicted);
                evicted.Evicted = true;
                _slots--;
            }

            _slots++;
            _unprovenCount++;
            _unprovenBySource[source] = fromSource + 1;
        }

        // An eviction hands its unproven slot over: the gauge stays as it is (counting +1 here and -1 at the eviction
        // would let it read one above MaxUnproven in between).
        if (evicted is null)
        {
            Counters.Unproven(1);
        }

        return null;
    }

    // Gives back what Admit took, for a request that did not become a transfer.
    private void Release(IPAddress source)
    {
        lock (_gate)
        {
            _slots--;
            _unprovenCount--;
            Forget(source);
        }

        Counters.Unproven(-1);
    }

    private void Evict(TftpSession session)
    {
        Counters.Evicted();
        _sessions.TryRemove(new KeyValuePair<SocketAddress, TftpSession>(session.Client, session));
        session.Abort();
    }

    /// <summary>The client acknowledged its first packet: its transfer no longer counts as unproven nor can be evicted.</summary>
    internal void Proven(TftpSession session)
    {
        lock (_gate)
        {
            if (session.UnprovenNode is null)
            {
                return;
            }

            Unlink(session);
        }

        Counters.Unproven(-1);
    }

    private void Ended(TftpSession session)
    {
        bool wasUnproven;
        lock (_gate)
        {
            wasUnproven = session.UnprovenNode is not null;
            if (wasUnproven)
            {
                Unlink(session);
            }

            if (!session.Evicted)
            {
                _slots--;
            }
        }

        if (wasUnproven)
        {
            Counters.Unproven(-1);
        }
    }

    // Under _gate: out of the eviction order and the per-source count (the gauge is the caller's).
    private void Unlink(TftpSession session)
    {
        _unproven.Remove(session.UnprovenNode!);
        session.UnprovenNode = null;
        _unprovenCount--;
        Forget(session.ClientEndPoint.Address);
    }

    private void Forget(IPAddress source)
    {
        if (_unprovenBySource.TryGetValue(source, out var n) && n > 1)
        {
            _unprovenBySource[source] = n - 1;
        }
        else
        {
            _unprovenBySource.Remove(source);
        }
    }

    private async Task RunSessionAsync(TftpSession session, SocketAddress client)
    {
        TftpTransfer result;
        try
        {
            result = await session.RunAsync(_stop.Token).ConfigureAwait(false);
        }
        finally
        {
            Ended(session);
            _sessions.TryRemove(new KeyValuePair<SocketAddress, TftpSession>(client, session));
        }

        Counters.Finished(result.Completed, result.Bytes);
        if (result.Completed)
        {
            TftpLog.TransferCompleted(Logger, result.Client, result.Path, result.Bytes);
        }
        else
        {
            TftpLog.TransferFailed(Logger, result.Client, result.Path, result.Bytes, result.Error ?? "");
        }

        try
        {
            TransferFinished?.Invoke(result);
        }
#pragma warning disable CA1031 // A subscriber's failure must not end the server.
        catch (Exception e)
#pragma warning restore CA1031
        {
            TftpLog.SourceFailed(Logger, e, result.Path, result.Client);
        }
    }

    private async ValueTask ReplyErrorAsync(Socket socket, SocketAddress to, TftpErrorCode code, string message)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(TftpWire.MaxControlPacket);
        try
        {
            var n = TftpWire.WriteError(buffer, code, message);
            Counters.ErrorSent();
            await socket.SendToAsync(buffer.AsMemory(0, n), SocketFlags.None, to).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Drop(SocketAddress from, TftpDropReason reason)
    {
        Counters.Drop(reason);
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            TftpLog.Dropped(Logger, (IPEndPoint)Options.Endpoint.Create(from), reason);
        }
    }

    private static SocketAddress Copy(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    private static void SetReceiveBuffer(Socket socket, int size)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                socket.SetRawSocketOption(SolSocket, SoRcvBufForce, BitConverter.GetBytes(size));
                return;
            }
            catch (SocketException)
            {
                // Not privileged: the plain option, capped by net.core.rmem_max.
            }
        }

        socket.ReceiveBufferSize = size;
    }
}
