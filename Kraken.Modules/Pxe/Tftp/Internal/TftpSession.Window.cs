// A transfer's data phase: windows of DATA read into pooled slots, sliding on ACKs, resent on timeouts.
using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Kraken.Modules.Pxe.Tftp.Internal;

internal sealed partial class TftpSession
{
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
}
