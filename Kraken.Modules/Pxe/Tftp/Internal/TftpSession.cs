// One read transfer on its own UDP port (its TID): option negotiation, windows of DATA, ACKs, retransmission.
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kraken.Modules.Pxe.Tftp.Internal;

internal sealed class TftpSession
{
    private const int SolSocket = 1;        // SOL_SOCKET
    private const int SoSndBufForce = 32;   // SO_SNDBUFFORCE: beyond wmem_max, needs CAP_NET_ADMIN
    private const int UdpIpOverhead = 28;   // IPv4 + UDP headers per datagram

    private readonly TftpServer _server;
    private readonly TftpRequest _request;
    private readonly SocketAddress _client;
    private readonly IPEndPoint _clientEndPoint;
    private readonly SocketAddress _from;
    private readonly Socket _socket;
    private readonly byte[] _control = ArrayPool<byte>.Shared.Rent(TftpWire.MaxControlPacket);
    private CancellationTokenSource _timer;
    private TimeSpan _timeout;
    private long _acknowledgedBytes;

    public TftpSession(TftpServer server, TftpRequest request, SocketAddress client, IPEndPoint clientEndPoint, IPAddress localAddress)
    {
        _server = server;
        _request = request;
        _client = client;
        _clientEndPoint = clientEndPoint;
        _from = new SocketAddress(client.Family);
        _timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, server.Time);
        _timeout = server.Options.Timeout;
        _socket = new Socket(localAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(localAddress, 0));
    }

    public Task? Task { get; set; }

    /// <summary>Ends the transfer now (server stopping): pending receives fail.</summary>
    public void Abort() => _socket.Dispose();

    public async Task<TftpTransfer> RunAsync(CancellationToken cancellationToken)
    {
        string? error;
        try
        {
            error = await TransferAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            error = "server stopping";
        }
        catch (SocketException e)
        {
            error = "socket error: " + e.SocketErrorCode;
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
        var retries = 0;
        await _socket.SendToAsync(oack, SocketFlags.None, _client).ConfigureAwait(false);
        while (true)
        {
            var n = await ReceiveAsync(_control).ConfigureAwait(false);
            if (n < 0)
            {
                if (++retries > _server.Options.MaxRetries)
                {
                    return "timeout waiting for the OACK to be acknowledged";
                }

                _server.Counters.Retransmitted(1);
                await _socket.SendToAsync(oack, SocketFlags.None, _client).ConfigureAwait(false);
                continue;
            }

            var packet = _control.AsSpan(0, n);
            if (IsAck(packet, out var acked))
            {
                if (acked == 0)
                {
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

    private async Task<string?> SendFileAsync(BlockReader reader, int block, int window, CancellationToken cancellationToken)
    {
        var slotSize = TftpWire.HeaderSize + block;
        var slots = ArrayPool<byte>.Shared.Rent(slotSize * window);
        var lengths = ArrayPool<int>.Shared.Rent(window);
        try
        {
            long first = 1;        // first block not yet acknowledged
            long filled = 0;       // last block read into its slot
            long last = -1;        // the final (short) block, once read
            long sentHigh = 0;     // last block sent in the current round
            var retries = 0;
            while (true)
            {
                // Read the blocks of the window not yet read; a slot is free once its block is acknowledged.
                while (last < 0 && filled < first + window - 1)
                {
                    filled++;
                    var slot = (int)(filled % window);
                    var data = slots.AsMemory((slot * slotSize) + TftpWire.HeaderSize, block);
                    var len = await reader.ReadBlockAsync(data, cancellationToken).ConfigureAwait(false);
                    TftpWire.WriteDataHeader(slots.AsSpan(slot * slotSize), (ushort)filled);   // wraps 65535 -> 0
                    lengths[slot] = len;
                    if (len < block)
                    {
                        last = filled;
                    }
                }

                // Blocks already sent and sent again (after a partial ACK) count as retransmissions.
                var upTo = Math.Min(first + window - 1, filled);
                if (sentHigh >= first)
                {
                    _server.Counters.Retransmitted((int)(sentHigh - first + 1));
                }

                await SendRangeAsync(slots, lengths, slotSize, window, first, upTo).ConfigureAwait(false);
                sentHigh = upTo;

                // Wait for an ACK that moves the window.
                while (true)
                {
                    var n = await ReceiveAsync(_control).ConfigureAwait(false);
                    if (n < 0)
                    {
                        if (++retries > _server.Options.MaxRetries)
                        {
                            return $"timeout waiting for the ACK of block {first} (after {retries - 1} retransmissions)";
                        }

                        _server.Counters.Retransmitted((int)(sentHigh - first + 1));
                        await SendRangeAsync(slots, lengths, slotSize, window, first, sentHigh).ConfigureAwait(false);
                        continue;
                    }

                    var packet = _control.AsSpan(0, n);
                    if (!IsAck(packet, out var acked))
                    {
                        if (ClientError(packet) is { } e)
                        {
                            return e;
                        }

                        continue;
                    }

                    // Which sent block does this 16-bit number name? Blocks first-1 .. sentHigh are candidates.
                    var delta = (ushort)(acked - (ushort)(first - 1));
                    if (delta == 0 || delta > sentHigh - first + 1)
                    {
                        // A repeated ACK (or a stale one): answering it would double every later block
                        // (Sorcerer's Apprentice); only a timeout resends.
                        _server.Counters.DuplicateAck();
                        continue;
                    }

                    var newFirst = first + delta;
                    for (var i = first; i < newFirst; i++)
                    {
                        _acknowledgedBytes += lengths[(int)(i % window)];
                    }

                    first = newFirst;
                    retries = 0;
                    if (last >= 0 && first > last)
                    {
                        return null;
                    }

                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(slots);
            ArrayPool<int>.Shared.Return(lengths);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]   // per window: no allocation when a send waits
    private async ValueTask SendRangeAsync(byte[] slots, int[] lengths, int slotSize, int window, long from, long to)
    {
        for (var i = from; i <= to; i++)
        {
            var slot = (int)(i % window);
            await _socket.SendToAsync(slots.AsMemory(slot * slotSize, TftpWire.HeaderSize + lengths[slot]), SocketFlags.None, _client).ConfigureAwait(false);
        }

        _server.Counters.Blocks((int)(to - from + 1));
    }

    /// <summary>The next datagram from the client into <paramref name="buffer"/>, or -1 after the timeout.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]   // awaited once per window: pooled, not allocated
    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        _timer.CancelAfter(_timeout);
        while (true)
        {
            int n;
            try
            {
                n = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, _from, _timer.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_timer.IsCancellationRequested)
            {
                _timer.Dispose();
                _timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _server.Time);
                return -1;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
            {
                // A datagram larger than any ACK or ERROR we accept: not ours to act on.
                _server.Counters.Drop(TftpDropReason.BadTransferPacket);
                continue;
            }

            if (!_from.Equals(_client))
            {
                // Another port or host on our TID: tell it, and keep the transfer going (RFC 1350). Its
                // datagram is not needed any more, so the answer is written over it.
                _server.Counters.Drop(TftpDropReason.UnknownTransferId);
                var len = TftpWire.WriteError(_control, TftpErrorCode.UnknownTransferId, "Unknown transfer ID");
                await SendToAsync(_control.AsMemory(0, len), _from).ConfigureAwait(false);
                continue;
            }

            if (!_timer.TryReset())
            {
                // The timeout fired as the datagram arrived: take the datagram, renew the timer.
                _timer.Dispose();
                _timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _server.Time);
            }

            return n;
        }
    }

    private bool IsAck(ReadOnlySpan<byte> packet, out ushort block)
    {
        block = 0;
        if (packet.Length >= 4 && TftpWire.TryReadOpcode(packet, out var op) && op == TftpOpcode.Ack)
        {
            block = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
            return true;
        }

        return false;
    }

    // An ERROR from the client ends the transfer; anything else that is not an ACK is counted and ignored.
    private string? ClientError(ReadOnlySpan<byte> packet)
    {
        if (packet.Length >= 4 && TftpWire.TryReadOpcode(packet, out var op) && op == TftpOpcode.Error)
        {
            var code = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
            var text = packet[4..];
            var nul = text.IndexOf((byte)0);
            var message = Encoding.ASCII.GetString(nul >= 0 ? text[..nul] : text);
            return $"client error {code}: {message}";
        }

        _server.Counters.Drop(TftpDropReason.BadTransferPacket);
        return null;
    }

    private async ValueTask SendErrorAsync(TftpErrorCode code, string message)
    {
        var len = TftpWire.WriteError(_control, code, message);
        await SendToAsync(_control.AsMemory(0, len), _client).ConfigureAwait(false);
    }

    private async ValueTask SendToAsync(ReadOnlyMemory<byte> packet, SocketAddress to)
    {
        if (BinaryPrimitives.ReadUInt16BigEndian(packet.Span) == (ushort)TftpOpcode.Error)
        {
            _server.Counters.ErrorSent();
        }

        await _socket.SendToAsync(packet, SocketFlags.None, to).ConfigureAwait(false);
    }

    // A window of large blocks must fit in the send buffer at once, or sends wait and bursts stretch.
    private void SizeBuffers(int block, int window)
    {
        var burst = (long)(block + TftpWire.HeaderSize + UdpIpOverhead) * window * 2;
        if (burst <= 64 * 1024)
        {
            return;
        }

        var size = (int)Math.Min(burst, _server.Options.MaxSocketBuffer);
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _socket.SetRawSocketOption(SolSocket, SoSndBufForce, BitConverter.GetBytes(size));
                return;
            }
            catch (SocketException)
            {
                // Not privileged: the plain option, capped by net.core.wmem_max.
            }
        }

        _socket.SendBufferSize = size;
    }
}
