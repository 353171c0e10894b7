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

        if (_sessions.ContainsKey(from))
        {
            // The client repeated its request before our first answer reached it; that transfer answers.
            Drop(from, TftpDropReason.DuplicateRequest);
            return;
        }

        if (_sessions.Count >= Options.MaxTransfers)
        {
            Drop(from, TftpDropReason.Busy);
            await ReplyErrorAsync(socket, from, TftpErrorCode.NotDefined, "Server busy").ConfigureAwait(false);
            return;
        }

        var client = Copy(from);
        var clientEndPoint = (IPEndPoint)Options.Endpoint.Create(client);
        var local = Options.Endpoint.Address;
        TftpSession session;
        try
        {
            session = new TftpSession(this, request!, client, clientEndPoint, local);
        }
        catch (SocketException)
        {
            // No port or descriptor left for a transfer socket: the client may try again later.
            Drop(from, TftpDropReason.Busy);
            await ReplyErrorAsync(socket, from, TftpErrorCode.NotDefined, "Server busy").ConfigureAwait(false);
            return;
        }

        if (!_sessions.TryAdd(client, session))
        {
            Drop(from, TftpDropReason.DuplicateRequest);
            session.Abort();
            return;
        }

        Counters.Request();
        session.Task = Task.Run(() => RunSessionAsync(session, client), CancellationToken.None);
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
            _sessions.TryRemove(client, out _);
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
