// One read transfer on its own UDP port (its TID): option negotiation, windows of DATA, ACKs, retransmission.
using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Kraken.Modules.Pxe.Tftp.Internal;

internal sealed partial class TftpSession
{
    private const int SolSocket = 1;        // SOL_SOCKET
    private const int SoSndBufForce = 32;   // SO_SNDBUFFORCE: beyond wmem_max, needs CAP_NET_ADMIN
    private const int UdpIpOverhead = 28;   // IPv4 + UDP headers per datagram
    private const int SolUdp = 17;          // SOL_UDP
    private const int UdpSegment = 103;     // UDP_SEGMENT: GSO segment size for the socket's sends
    private const int MaxSegments = 64;     // UDP_MAX_SEGMENTS on older kernels (128 on newer ones)
    private const int MaxSegmentedBytes = 63 * 1024;   // one send stays below the 65,507-byte UDP payload limit

    private readonly TftpServer _server;
    private readonly TftpRequest _request;
    private readonly SocketAddress _client;
    private readonly IPEndPoint _clientEndPoint;
    private readonly SocketAddress _from;
    private readonly Socket _socket;
    private readonly byte[] _control = ArrayPool<byte>.Shared.Rent(TftpWire.MaxControlPacket);
    private CancellationTokenSource _timer;
    private TimeSpan _timeout;
    private readonly long _started;
    private readonly Lock _firstLock = new();
    private long _acknowledgedBytes;
    private int _segment;                   // UDP_SEGMENT in force on the socket, 0 when off
    private volatile bool _proven;          // the client has acknowledged our first packet
    private byte[]? _first;                 // that packet (DATA 1 or OACK) until then, to repeat on a repeated request
    private int _repeats;

    public TftpSession(TftpServer server, TftpRequest request, SocketAddress client, IPEndPoint clientEndPoint, IPAddress localAddress)
    {
        _server = server;
        _request = request;
        _client = client;
        _clientEndPoint = clientEndPoint;
        _from = new SocketAddress(client.Family);
        _timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, server.Time);
        _timeout = server.Options.Timeout;
        _started = server.Time.GetTimestamp();
        _socket = new Socket(localAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(localAddress, 0));
    }

    public Task? Task { get; set; }

    public SocketAddress Client => _client;

    public IPEndPoint ClientEndPoint => _clientEndPoint;

    /// <summary>Its place among the transfers without their first ACK (the server's, under its lock); null once proven.</summary>
    public LinkedListNode<TftpSession>? UnprovenNode { get; set; }

    /// <summary>Ended by the server to make room for a new request (set under the server's lock).</summary>
    public bool Evicted { get; set; }

    /// <summary>Ends the transfer now (server stopping, or evicted): pending receives fail.</summary>
    public void Abort() => _socket.Dispose();

    /// <summary>
    /// The client repeated its request. Before its first ACK, our first packet goes again, at most
    /// <see cref="TftpServerOptions.MaxRetries"/> times: one datagram per request received, never more.
    /// </summary>
    public async ValueTask RepeatFirstAsync()
    {
        byte[] packet;
        lock (_firstLock)
        {
            if (_proven || _first is null || _repeats >= _server.Options.MaxRetries)
            {
                return;
            }

            _repeats++;
            packet = _first;
        }

        try
        {
            await _socket.SendToAsync(packet, SocketFlags.None, _client).ConfigureAwait(false);
            _server.Counters.Retransmitted(1);
            _server.Counters.UnprovenSent(packet.Length);
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // The transfer ended meanwhile, or the client is unreachable: nothing to repeat.
        }
    }

    // The first packet has gone out: kept (a copy; the original's buffer is reused) for a repeated request.
    private void SentFirst(ReadOnlySpan<byte> packet)
    {
        _server.Counters.UnprovenSent(packet.Length);
        var copy = packet.ToArray();
        lock (_firstLock)
        {
            if (!_proven)
            {
                _first = copy;
            }
        }
    }

    // The client acknowledged our first packet: it receives at the address it claims.
    private void Prove()
    {
        if (_proven)
        {
            return;
        }

        lock (_firstLock)
        {
            _proven = true;
            _first = null;
        }

        _server.Proven(this);
    }

    private string NotAcknowledged(string what)
    {
        _server.Counters.Unacknowledged();
        return $"no acknowledgement of {what} within {_server.Options.UnprovenTimeout.TotalSeconds:0.#} s";
    }

    public async Task<TftpTransfer> RunAsync(CancellationToken cancellationToken)
    {
        string? error;
        try
        {
            error = await TransferAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            error = Evicted ? "evicted: no acknowledgement yet while the server was full" : "server stopping";
        }
        catch (SocketException e)
        {
            error = Evicted ? "evicted: no acknowledgement yet while the server was full" : "socket error: " + e.SocketErrorCode;
        }
        finally
        {
            _socket.Dispose();
            _timer.Dispose();
            ArrayPool<byte>.Shared.Return(_control);
        }

        return new TftpTransfer(_clientEndPoint, _request.Path, _acknowledgedBytes, error is null, error);
    }

    // Null when the last block was acknowledged, else why not.
    private async Task<string?> TransferAsync(CancellationToken cancellationToken)
    {
        var options = _server.Options;
        TftpFile? file;
        try
        {
            file = await _server.Files.OpenAsync(_request.Path, _clientEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch (TftpAccessException e)
        {
            await SendErrorAsync(TftpErrorCode.AccessViolation, "Access violation: " + e.Message).ConfigureAwait(false);
            return "access violation: " + e.Message;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            TftpLog.SourceFailed(_server.Logger, e, _request.Path, _clientEndPoint);
            await SendErrorAsync(TftpErrorCode.NotDefined, "Server error").ConfigureAwait(false);
            return "file source failed: " + e.Message;
        }

        if (file is null)
        {
            await SendErrorAsync(TftpErrorCode.FileNotFound, "File not found").ConfigureAwait(false);
            return "file not found";
        }

        var content = file.Content;
        await using var disposeContent = content.ConfigureAwait(false);

        // Only options the client sent are answered (RFC 2347); values are lowered to what we allow.
        int? blockSize = _request.BlockSize is { } b ? Math.Min(b, options.MaxBlockSize) : null;
        var block = blockSize ?? TftpWire.DefaultBlockSize;
        int? windowSize = _request.WindowSize is { } w ? Math.Clamp(Math.Min(w, options.MaxWindowSize), 1, Math.Max(1, options.MaxBurstBytes / block)) : null;
        var window = windowSize ?? 1;
        long? transferSize = _request.TransferSize is not null && _request.Mode == TftpMode.Octet ? file.Length : null;
        if (_request.Timeout is { } t)
        {
            _timeout = TimeSpan.FromSeconds(t);
        }

        SizeBuffers(block, window);
        TftpLog.TransferStarted(_server.Logger, _clientEndPoint, _request.Path, block, window);

        if (blockSize is not null || windowSize is not null || transferSize is not null || _request.Timeout is not null)
        {
            var n = TftpWire.WriteOptionAck(_control, blockSize, transferSize, _request.Timeout, windowSize);
            var oackError = await NegotiateAsync(n).ConfigureAwait(false);
            if (oackError is not null)
            {
                return oackError;
            }
        }

        using var reader = new BlockReader(content, _request.Mode);
        return await SendFileAsync(reader, block, window, cancellationToken).ConfigureAwait(false);
    }

    // Sends the OACK held in _control until the client acknowledges block 0.
    private async Task<string?> NegotiateAsync(int length)
    {
        var oack = new byte[length];   // the control buffer is reused for receiving
        _control.AsSpan(0, length).CopyTo(oack);
        await _socket.SendToAsync(oack, SocketFlags.None, _client).ConfigureAwait(false);
        SentFirst(oack);
        while (true)
        {
            // Nothing is sent again on a timer before the client's first ACK (RepeatFirstAsync answers a repeated
            // request): the OACK is always that first packet.
            var n = await ReceiveAsync(_control).ConfigureAwait(false);
            if (n < 0)
            {
                return NotAcknowledged("the OACK");
            }

            var packet = _control.AsSpan(0, n);
            if (IsAck(packet, out var acked))
            {
                if (acked == 0)
                {
                    Prove();
                    return null;
                }

                _server.Counters.Drop(TftpDropReason.BadTransferPacket);
            }
            else if (ClientError(packet) is { } e)
            {
                return e;
            }
        }
    }
}
