// Traffic, drop and transition counters of one engine, mirrored to the "Kraken.Sync" meter.
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kraken.Net.Sync;

namespace Kraken.Tree.Sync;

/// <summary>
/// Counters of one <see cref="SyncEngine"/>: messages and bytes by type and direction, drops by reason,
/// adjacency transitions, join refusals and failed joins. Readable from any thread; the same counts go to the
/// <see cref="System.Diagnostics.Metrics.Meter"/> named <see cref="MeterName"/> for the daemon to export, every
/// label set known in advance from the engine's creation on (at zero).
/// </summary>
public sealed class SyncCounters
{
    /// <summary>Name of the meter every engine reports to.</summary>
    public const string MeterName = "Kraken.Sync";

    private static readonly Meter s_meter = new(MeterName);
    /// <summary>Why a parent refused a join (the <c>reason</c> label of <c>kraken_sync_joins_refused_total</c>).</summary>
    internal static readonly string[] RefusalReasons =
        ["bad_mac", "unknown_node", "out_of_turn", "bad_proof", "no_secret", "bootstrap_unknown", "bootstrap_used", "bootstrap_expired", "bootstrap_wrong_host"];

    private static readonly Counter<long> s_messages = s_meter.CreateCounter<long>("kraken.sync.messages", "{message}", "Sync messages by type and direction.");
    private static readonly Counter<long> s_bytes = s_meter.CreateCounter<long>("kraken.sync.bytes", "By", "Sync frame bytes (header, payload, MAC) by type and direction.");
    private static readonly Counter<long> s_drops = s_meter.CreateCounter<long>("kraken.sync.frames.dropped", "{frame}", "Received frames dropped, by reason.");
    private static readonly Counter<long> s_transitions = s_meter.CreateCounter<long>("kraken.sync.adjacency.transitions", "{transition}", "Adjacency state transitions.");
    private static readonly Counter<long> s_refusals = s_meter.CreateCounter<long>("kraken.sync.joins.refused", "{join}", "Join requests this node refused as a parent, by reason.");
    private static readonly Counter<long> s_joinFailures = s_meter.CreateCounter<long>("kraken.sync.joins.failed", "{join}", "Join attempts of this node that failed (parent unreachable or unresolvable, refused, no answer in time).");
    private static readonly Counter<long> s_workFailures = s_meter.CreateCounter<long>("kraken.sync.passes.failed", "{pass}", "Timer callbacks and passes of the sync engine that failed and were armed again, by work.");
    private static readonly Counter<long> s_recordsRefused = s_meter.CreateCounter<long>("kraken.sync.records.refused", "{record}", "Received records left out for breaking the state model's value rules.");
    private static readonly string[] s_stateNames = Enum.GetValues<AdjacencyState>().Select(StateName).ToArray();

    private readonly long[] _sent = new long[SyncProtocolNames.MaxType + 1];
    private readonly long[] _sentBytes = new long[SyncProtocolNames.MaxType + 1];
    private readonly long[] _received = new long[SyncProtocolNames.MaxType + 1];
    private readonly long[] _receivedBytes = new long[SyncProtocolNames.MaxType + 1];
    private readonly long[] _drops = new long[SyncProtocolNames.ReasonCount];
    private long _transitions;
    private long _refusals;
    private long _joinFailures;
    private readonly long[] _workFailures = new long[SyncEngine.WorkNames.Length];
    private long _recordsRefused;

    public SyncCounters()
    {
        if (!s_messages.Enabled)
        {
            return;
        }

        // Every series known in advance, at zero, so a scrape shows it before its first event.
        foreach (var direction in (ReadOnlySpan<string>)["in", "out"])
        {
            for (var type = 1; type <= SyncProtocolNames.MaxType; type++)
            {
                var t = new KeyValuePair<string, object?>("type", SyncProtocolNames.Name((MessageType)type));
                var d = new KeyValuePair<string, object?>("direction", direction);
                s_messages.Add(0, t, d);
                s_bytes.Add(0, t, d);
            }
        }

        for (var reason = 0; reason < SyncProtocolNames.ReasonCount; reason++)
        {
            s_drops.Add(0, new KeyValuePair<string, object?>("reason", SyncProtocolNames.Name((DropReason)reason)));
        }

        foreach (var from in s_stateNames)
        {
            foreach (var to in s_stateNames)
            {
                if (from != to)
                {
                    s_transitions.Add(0, new KeyValuePair<string, object?>("from", from), new KeyValuePair<string, object?>("to", to));
                }
            }
        }

        foreach (var reason in RefusalReasons)
        {
            s_refusals.Add(0, new KeyValuePair<string, object?>("reason", reason));
        }

        foreach (var work in SyncEngine.WorkNames)
        {
            s_workFailures.Add(0, new KeyValuePair<string, object?>("work", work));
        }

        s_joinFailures.Add(0);
        s_recordsRefused.Add(0);
    }

    public long Sent(MessageType type) => Volatile.Read(ref _sent[(int)type]);

    public long SentBytes(MessageType type) => Volatile.Read(ref _sentBytes[(int)type]);

    public long Received(MessageType type) => Volatile.Read(ref _received[(int)type]);

    public long ReceivedBytes(MessageType type) => Volatile.Read(ref _receivedBytes[(int)type]);

    public long Drops(DropReason reason) => Volatile.Read(ref _drops[(int)reason]);

    public long TotalSentBytes => Sum(_sentBytes);

    public long TotalReceivedBytes => Sum(_receivedBytes);

    public long TotalSent => Sum(_sent);

    public long TotalDrops => Sum(_drops);

    public long Transitions => Volatile.Read(ref _transitions);

    public long JoinRefusals => Volatile.Read(ref _refusals);

    /// <summary>Join attempts of this node that failed, whatever the reason.</summary>
    public long JoinFailures => Volatile.Read(ref _joinFailures);

    /// <summary>Failed runs of <paramref name="work"/> (each logged and followed by a re-arm).</summary>
    public long WorkFailures(SyncWork work) => Volatile.Read(ref _workFailures[(int)work]);

    public long TotalWorkFailures => Sum(_workFailures);
    /// <summary>Received records left out because a value or the record broke the state model's rules.</summary>
    public long RecordsRefused => Volatile.Read(ref _recordsRefused);

    internal void OnSent(MessageType type, int bytes) => Count(_sent, _sentBytes, type, bytes, "out");

    internal void OnReceived(MessageType type, int bytes) => Count(_received, _receivedBytes, type, bytes, "in");

    private static void Count(long[] messages, long[] totals, MessageType type, int bytes, string direction)
    {
        Interlocked.Increment(ref messages[(int)type]);
        Interlocked.Add(ref totals[(int)type], bytes);
        if (s_messages.Enabled)
        {
            var t = new KeyValuePair<string, object?>("type", SyncProtocolNames.Name(type));
            var d = new KeyValuePair<string, object?>("direction", direction);
            s_messages.Add(1, t, d);
            s_bytes.Add(bytes, t, d);
        }
    }

    internal void OnDrop(DropReason reason)
    {
        Interlocked.Increment(ref _drops[(int)reason]);
        s_drops.Add(1, new KeyValuePair<string, object?>("reason", SyncProtocolNames.Name(reason)));
    }

    internal void OnTransition(AdjacencyState from, AdjacencyState to)
    {
        Interlocked.Increment(ref _transitions);
        s_transitions.Add(1, new KeyValuePair<string, object?>("from", s_stateNames[(int)from]), new KeyValuePair<string, object?>("to", s_stateNames[(int)to]));
    }

    internal void OnRecordRefused()
    {
        Interlocked.Increment(ref _recordsRefused);
        s_recordsRefused.Add(1);
    }

    internal void OnJoinFailed()
    {
        Interlocked.Increment(ref _joinFailures);
        s_joinFailures.Add(1);
    }

    internal void OnRefusal(string reason)
    {
        Debug.Assert(RefusalReasons.Contains(reason), $"refusal reason '{reason}' is not in RefusalReasons");
        Interlocked.Increment(ref _refusals);
        s_refusals.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    internal long OnWorkFailed(SyncWork work)
    {
        s_workFailures.Add(1, new KeyValuePair<string, object?>("work", SyncEngine.WorkNames[(int)work]));
        return Interlocked.Increment(ref _workFailures[(int)work]);
    }

    private static string StateName(AdjacencyState s) => s switch
    {
        AdjacencyState.Down => "down",
        AdjacencyState.Joining => "joining",
        AdjacencyState.Exchange => "exchange",
        AdjacencyState.Full => "full",
        _ => "dead",
    };

    private static long Sum(long[] values)
    {
        long total = 0;
        for (var i = 0; i < values.Length; i++)
        {
            total += Volatile.Read(ref values[i]);
        }

        return total;
    }
}
