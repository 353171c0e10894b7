// Counters of one TFTP server, mirrored to the "Kraken.Tftp" meter (instruments kraken.tftp.*), every series at zero
// from the server's start (docs/daemon.md, "Metrics").
using System.Diagnostics.Metrics;

namespace Kraken.Modules.Pxe.Tftp;

/// <summary>Why a packet was dropped or refused.</summary>
public enum TftpDropReason
{
    /// <summary>Shorter than its opcode requires.</summary>
    Truncated,

    /// <summary>A file name or mode without its terminating NUL.</summary>
    MissingNul,

    /// <summary>An opcode TFTP does not define.</summary>
    UnknownOpcode,

    /// <summary>A defined opcode where it makes no sense (DATA, ACK, OACK, ERROR to the request port).</summary>
    UnexpectedOpcode,

    /// <summary>A mode other than octet or netascii.</summary>
    BadMode,

    /// <summary>An option with a missing or invalid value (answered with error 8).</summary>
    BadOption,

    /// <summary>A write request: this server is read-only.</summary>
    WriteRequest,

    /// <summary>A repeated request from a client whose transfer is already running.</summary>
    DuplicateRequest,

    /// <summary>A packet to a transfer's port from another address or port (answered with error 5).</summary>
    UnknownTransferId,

    /// <summary>A packet on a transfer's port that is not an ACK or ERROR, or is too short to be one.</summary>
    BadTransferPacket,

    /// <summary>A request refused because <see cref="TftpServerOptions.MaxTransfers"/> were running, all of them acknowledged.</summary>
    Busy,

    /// <summary>
    /// A request dropped unanswered because its address already had <see cref="TftpServerOptions.MaxUnprovenPerClient"/>
    /// transfers waiting for their first ACK.
    /// </summary>
    ClientLimit,
}

/// <summary>Running totals of one <see cref="TftpServer"/>; safe to read while it runs.</summary>
public sealed class TftpCounters
{
    public const string MeterName = "Kraken.Tftp";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_requests = s_meter.CreateCounter<long>("kraken.tftp.requests.accepted", "{request}", "Read requests accepted.");
    private static readonly Counter<long> s_completed = s_meter.CreateCounter<long>("kraken.tftp.transfers.completed", "{transfer}", "Transfers whose last block was acknowledged.");
    private static readonly Counter<long> s_failed = s_meter.CreateCounter<long>("kraken.tftp.transfers.failed", "{transfer}", "Transfers that ended with an error or timeout.");
    private static readonly UpDownCounter<long> s_active = s_meter.CreateUpDownCounter<long>("kraken.tftp.transfers.active", "{transfer}", "Transfers running.");
    private static readonly Counter<long> s_bytes = s_meter.CreateCounter<long>("kraken.tftp.sent", "By", "File bytes sent and acknowledged by clients.");
    private static readonly Counter<long> s_retransmits = s_meter.CreateCounter<long>("kraken.tftp.packets.retransmitted", "{packet}", "DATA and OACK packets sent again after a timeout or a partial window.");
    private static readonly Counter<long> s_errors = s_meter.CreateCounter<long>("kraken.tftp.error_packets.sent", "{packet}", "ERROR packets sent.");
    private static readonly Counter<long> s_drops = s_meter.CreateCounter<long>("kraken.tftp.packets.dropped", "{packet}", "Packets dropped or refused, by reason.");
    private static readonly UpDownCounter<long> s_unproven = s_meter.CreateUpDownCounter<long>("kraken.tftp.transfers.unproven", "{transfer}", "Transfers waiting for their first ACK.");
    private static readonly Counter<long> s_evicted = s_meter.CreateCounter<long>("kraken.tftp.transfers.evicted", "{transfer}", "Transfers without their first ACK ended to make room for a new request.");
    private static readonly Counter<long> s_expired = s_meter.CreateCounter<long>("kraken.tftp.transfers.unacknowledged", "{transfer}", "Transfers that never had their first ACK within UnprovenTimeout.");
    private static readonly Counter<long> s_unprovenBytes = s_meter.CreateCounter<long>("kraken.tftp.unproven.sent", "By", "Bytes sent to clients before their first ACK (DATA 1 or OACK, and their repeats).");

    private readonly long[] _drops = new long[Enum.GetValues<TftpDropReason>().Length];
    private long _requests;
    private long _completed;
    private long _failed;
    private long _active;
    private long _bytes;
    private long _blocks;
    private long _retransmits;
    private long _duplicateAcks;
    private long _segmentedSends;
    private long _segmentationRefused;
    private long _errors;
    private long _unproven;
    private long _evicted;
    private long _expired;
    private long _unprovenBytes;
    private long _unprovenPackets;

    public TftpCounters()
    {
        foreach (var counter in (ReadOnlySpan<Counter<long>>)[s_requests, s_completed, s_failed, s_bytes, s_retransmits, s_errors, s_evicted, s_expired, s_unprovenBytes])
        {
            counter.Add(0);
        }

        s_active.Add(0);
        s_unproven.Add(0);
        foreach (var reason in Enum.GetValues<TftpDropReason>())
        {
            s_drops.Add(0, new KeyValuePair<string, object?>("reason", ReasonTag(reason)));
        }
    }

    public long Requests => Volatile.Read(ref _requests);

    public long TransfersCompleted => Volatile.Read(ref _completed);

    public long TransfersFailed => Volatile.Read(ref _failed);

    public long TransfersActive => Volatile.Read(ref _active);

    /// <summary>File bytes acknowledged by clients.</summary>
    public long BytesSent => Volatile.Read(ref _bytes);

    /// <summary>DATA packets sent, retransmissions included.</summary>
    public long BlocksSent => Volatile.Read(ref _blocks);

    public long Retransmissions => Volatile.Read(ref _retransmits);

    /// <summary>ACKs for a block already acknowledged: ignored (no Sorcerer's Apprentice).</summary>
    public long DuplicateAcks => Volatile.Read(ref _duplicateAcks);

    public long ErrorsSent => Volatile.Read(ref _errors);

    /// <summary>
    /// Sends that carried several DATA blocks at once, split into datagrams by the kernel (UDP GSO, Linux); zero
    /// where the kernel or the path cannot segment and every block goes in its own send.
    /// </summary>
    public long SegmentedSends => Volatile.Read(ref _segmentedSends);

    /// <summary>Transfers that fell back to one send per block because the kernel refused a segmented send (e.g. blocks larger than the path MTU).</summary>
    public long SegmentationFallbacks => Volatile.Read(ref _segmentationRefused);

    /// <summary>Transfers running that have not had their first ACK.</summary>
    public long TransfersUnproven => Volatile.Read(ref _unproven);

    /// <summary>Transfers without their first ACK ended to make room (the oldest first).</summary>
    public long TransfersEvicted => Volatile.Read(ref _evicted);

    /// <summary>Transfers that never had their first ACK within <see cref="TftpServerOptions.UnprovenTimeout"/>.</summary>
    public long TransfersUnacknowledged => Volatile.Read(ref _expired);

    /// <summary>Bytes sent to clients before their first ACK: what an address that never answers can draw.</summary>
    public long UnprovenBytesSent => Volatile.Read(ref _unprovenBytes);

    /// <summary>Datagrams sent to clients before their first ACK.</summary>
    public long UnprovenPacketsSent => Volatile.Read(ref _unprovenPackets);

    public long Dropped(TftpDropReason reason) => Volatile.Read(ref _drops[(int)reason]);

    /// <summary>All drops, whatever the reason.</summary>
    public long DroppedTotal
    {
        get
        {
            long n = 0;
            for (var i = 0; i < _drops.Length; i++)
            {
                n += Volatile.Read(ref _drops[i]);
            }

            return n;
        }
    }

    internal void Request()
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _active);
        s_requests.Add(1);
        s_active.Add(1);
    }

    internal void Finished(bool completed, long bytes)
    {
        Interlocked.Decrement(ref _active);
        s_active.Add(-1);
        Interlocked.Add(ref _bytes, bytes);
        s_bytes.Add(bytes);
        if (completed)
        {
            Interlocked.Increment(ref _completed);
            s_completed.Add(1);
        }
        else
        {
            Interlocked.Increment(ref _failed);
            s_failed.Add(1);
        }
    }

    internal void Unproven(int delta)
    {
        Interlocked.Add(ref _unproven, delta);
        s_unproven.Add(delta);
    }

    internal void Evicted()
    {
        Interlocked.Increment(ref _evicted);
        s_evicted.Add(1);
    }

    internal void Unacknowledged()
    {
        Interlocked.Increment(ref _expired);
        s_expired.Add(1);
    }

    internal void UnprovenSent(int bytes)
    {
        Interlocked.Add(ref _unprovenBytes, bytes);
        Interlocked.Increment(ref _unprovenPackets);
        s_unprovenBytes.Add(bytes);
    }

    internal void Blocks(int count) => Interlocked.Add(ref _blocks, count);

    internal void Retransmitted(int count)
    {
        Interlocked.Add(ref _retransmits, count);
        s_retransmits.Add(count);
    }

    internal void SegmentedSend() => Interlocked.Increment(ref _segmentedSends);

    internal void SegmentationRefused() => Interlocked.Increment(ref _segmentationRefused);

    internal void DuplicateAck() => Interlocked.Increment(ref _duplicateAcks);

    internal void ErrorSent()
    {
        Interlocked.Increment(ref _errors);
        s_errors.Add(1);
    }

    internal void Drop(TftpDropReason reason)
    {
        Interlocked.Increment(ref _drops[(int)reason]);
        s_drops.Add(1, new KeyValuePair<string, object?>("reason", ReasonTag(reason)));
    }

    private static string ReasonTag(TftpDropReason reason) => reason switch
    {
        TftpDropReason.Truncated => "truncated",
        TftpDropReason.MissingNul => "missing_nul",
        TftpDropReason.UnknownOpcode => "unknown_opcode",
        TftpDropReason.UnexpectedOpcode => "unexpected_opcode",
        TftpDropReason.BadMode => "bad_mode",
        TftpDropReason.BadOption => "bad_option",
        TftpDropReason.WriteRequest => "write_request",
        TftpDropReason.DuplicateRequest => "duplicate_request",
        TftpDropReason.UnknownTransferId => "unknown_tid",
        TftpDropReason.BadTransferPacket => "bad_transfer_packet",
        TftpDropReason.ClientLimit => "client_limit",
        _ => "busy",
    };
}
