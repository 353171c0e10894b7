// A transfer's packets: receiving with the retransmission timeout, recognising ACK and ERROR, sending, buffers.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kraken.Modules.Pxe.Tftp.Internal;

internal sealed partial class TftpSession
{
    /// <summary>The next datagram from the client into <paramref name="buffer"/>, or -1 after the timeout.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]   // awaited once per window: pooled, not allocated
    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        // Before the first ACK the transfer has one deadline in all, not a timeout per packet.
        var wait = _proven ? _timeout : _server.Options.UnprovenTimeout - _server.Time.GetElapsedTime(_started);
        if (wait <= TimeSpan.Zero)
        {
            return -1;
        }

        _timer.CancelAfter(wait);
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
        if (!_proven)
        {
            _server.Counters.UnprovenSent(len);
        }

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

    // UDP GSO: with UDP_SEGMENT set on the socket, one send of several segments leaves as that many datagrams
    // of the segment size (the last may be shorter), one syscall and one trip down the stack for a window.
    // Every other datagram the transfer sends from now on (an ERROR to a stranger, at most a few dozen bytes) is
    // smaller than a segment, so it goes out whole.
    private void EnableSegmentation(int segment)
    {
        if (!OperatingSystem.IsLinux() || _server.Options.DisableSegmentation)
        {
            return;
        }

        try
        {
            _socket.SetRawSocketOption(SolUdp, UdpSegment, BitConverter.GetBytes(segment));
            _segment = segment;
        }
        catch (SocketException)
        {
            // Kernel without UDP GSO (before 4.18): per-block sends.
        }
    }

    private void DisableSegmentation(SocketError why)
    {
        _segment = 0;
        _server.Counters.SegmentationRefused();
        TftpLog.SegmentationRefused(_server.Logger, _clientEndPoint, why);
        _socket.SetRawSocketOption(SolUdp, UdpSegment, BitConverter.GetBytes(0));
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
