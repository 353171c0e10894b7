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
        if (window > 1 && block >= TftpWire.DefaultBlockSize && 2 * slotSize <= MaxSegmentedBytes)
        {
            EnableSegmentation(slotSize);
        }

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
                if (!_proven)
                {
                    // No options were negotiated (an OACK's ACK proves the client), so this is DATA 1 alone.
                    var slot = (int)(first % window);
                    SentFirst(slots.AsSpan(slot * slotSize, TftpWire.HeaderSize + lengths[slot]));
                }

                // Wait for an ACK that moves the window.
                while (true)
                {
                    var n = await ReceiveAsync(_control).ConfigureAwait(false);
                    if (n < 0)
                    {
                        if (!_proven)
                        {
                            // Never resent on a timer before the first ACK: a repeated request brings it again.
                            return NotAcknowledged("block 1");
                        }

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

                    Prove();
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

    // Sends blocks from..to. With segmentation on, each run of full blocks in neighbouring slots (the ring does
    // not wrap inside it) goes in one send that the kernel cuts into datagrams of _segment bytes; the run may end
    // with the short last block. Otherwise, or if the kernel refuses, one send per block.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]   // per window: no allocation when a send waits
    private async ValueTask SendRangeAsync(byte[] slots, int[] lengths, int slotSize, int window, long from, long to)
    {
        var i = from;
        while (i <= to)
        {
            var slot = (int)(i % window);
            var length = TftpWire.HeaderSize + lengths[slot];
            var count = 1;
            if (_segment > 0)
            {
                while (i + count <= to
                    && slot + count < window
                    && count < MaxSegments
                    && length == count * slotSize
                    && length + TftpWire.HeaderSize + lengths[slot + count] <= MaxSegmentedBytes)
                {
                    length += TftpWire.HeaderSize + lengths[slot + count];
                    count++;
                }
            }

            if (_segment > 0)
            {
                try
                {
                    await _socket.SendToAsync(slots.AsMemory(slot * slotSize, length), SocketFlags.None, _client).ConfigureAwait(false);
                    if (count > 1)
                    {
                        _server.Counters.SegmentedSend();
                    }

                    i += count;
                    continue;
                }
                catch (SocketException e)
                {
                    // EINVAL when a segment would not fit the path MTU whole (large blocks on Ethernet; some
                    // kernels check even a send of one block), EIO/EMSGSIZE where the path cannot segment: the
                    // option off and per-block sends from now on. A real network error fails again below.
                    DisableSegmentation(e.SocketErrorCode);
                }
            }

            for (var end = i + count; i < end; i++)
            {
                slot = (int)(i % window);
                await _socket.SendToAsync(slots.AsMemory(slot * slotSize, TftpWire.HeaderSize + lengths[slot]), SocketFlags.None, _client).ConfigureAwait(false);
            }
        }

        _server.Counters.Blocks((int)(to - from + 1));
    }
}
