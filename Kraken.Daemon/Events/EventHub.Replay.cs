// Event ids and resuming: every event gets the next number of this daemon run, the last Api:EventReplay events are
// kept in a ring, and a client reconnecting with Last-Event-ID gets those after its id, or a reset if some are gone.
using System.Globalization;
using System.Security.Cryptography;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Daemon.Events;

public sealed partial class EventHub
{
    /// <summary>
    /// The recorded events: event <c>n</c> sits at <c>(n - 1) % length</c>. The entries are structs copied in under
    /// the lock, so recording allocates nothing; events are serialized again only when they are replayed.
    /// </summary>
    private readonly Recorded[] _ring;

    /// <summary>Names this daemon run in every id, so an id from an earlier run is never taken for one of this.</summary>
    private readonly string _run;

    /// <summary>The number of the last event; events are numbered from 1.</summary>
    private ulong _sequence;

    /// <summary>The id of the last event, as a reconnecting client sends it back; "{run}-0" before the first.</summary>
    public string LastEventId
    {
        get
        {
            lock (_lock)
            {
                return EventId(_sequence);
            }
        }
    }

    /// <summary>An event's id on the wire: the run, a dash and the event's number ("3f9c0a12-1042").</summary>
    internal string EventId(ulong sequence) => string.Create(CultureInfo.InvariantCulture, $"{_run}-{sequence}");

    private static string NewRunId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary>Numbers an event and keeps it in the ring (under the lock).</summary>
    private ulong Record(in Recorded e)
    {
        var seq = ++_sequence;
        if (_ring.Length > 0)
        {
            _ring[(int)((seq - 1) % (ulong)_ring.Length)] = e;
        }

        return seq;
    }

    /// <summary>Where a new subscription starts (under the lock): its position, the events to replay, or why it cannot resume.</summary>
    private Start Resume(string? lastEventId)
    {
        var position = _sequence;
        if (lastEventId is null)
        {
            return new Start(position, null, null);
        }

        var oldest = position - Math.Min(position, (ulong)_ring.Length) + 1;
        var dash = lastEventId.LastIndexOf('-');
        string? reason = null;
        ulong last = 0;
        if (dash <= 0 || !ulong.TryParse(lastEventId.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out last))
        {
            reason = "not an event id of this daemon";
        }
        else if (!lastEventId.AsSpan(0, dash).SequenceEqual(_run))
        {
            reason = "an id of another run of this daemon (it restarted)";
        }
        else if (last > position)
        {
            reason = "an id this daemon has not given yet";
        }
        else if (last + 1 < oldest)
        {
            reason = $"the events after it are no longer kept (the last {_ring.Length}, Api:EventReplay)";
        }

        if (reason is not null)
        {
            return new Start(position, null, new DaemonEvent("reset", ResetJson(lastEventId, reason, EventId(position)), EventId(position)));
        }

        // Copies of the missed entries (structs); they are filtered and serialized outside the lock, as they go out.
        var missed = new Recorded[(int)(position - last)];
        for (var i = 0; i < missed.Length; i++)
        {
            missed[i] = _ring[(int)((last + (ulong)i) % (ulong)_ring.Length)];
        }

        return new Start(last, missed, null);
    }

    private IEnumerable<DaemonEvent> Opening(Start start, EventFilter filter)
    {
        if (start.Reset is { } reset)
        {
            yield return new DaemonEvent("subscribed", string.Empty);
            yield return reset;
            yield break;
        }

        if (start.Missed is not { } missed)
        {
            yield return new DaemonEvent("subscribed", string.Empty, EventId(start.After));
            yield break;
        }

        // A resumed client keeps the id it sent until a replayed event replaces it.
        yield return new DaemonEvent("subscribed", string.Empty);
        for (var i = 0; i < missed.Length; i++)
        {
            var e = missed[i];
            var id = start.After + (ulong)i + 1;
            if (e.IsMutation ? filter.Matches(e.Mutation) : filter.Matches(e.State))
            {
                yield return e.IsMutation
                    ? new DaemonEvent("mutation", Serialize(e.Mutation), EventId(id))
                    : new DaemonEvent("state", Serialize(e.State), EventId(id));
            }
        }
    }

    private static string ResetJson(string lastEventId, string reason, string resumeFrom) => Write(w =>
    {
        w.WriteString("type", "reset");
        w.WriteString("lastEventId", lastEventId);
        w.WriteString("reason", reason);
        w.WriteString("resumeFrom", resumeFrom);
    });

    /// <summary>One recorded event: a state change or a mutation event.</summary>
    internal readonly struct Recorded
    {
        public Recorded(in StateChange state)
        {
            State = state;
        }

        public Recorded(in MutationEvent mutation)
        {
            Mutation = mutation;
            IsMutation = true;
        }

        public StateChange State { get; }

        public MutationEvent Mutation { get; }

        public bool IsMutation { get; }
    }

    /// <summary>
    /// Where a subscription starts: after event <see cref="After"/>, with the recorded events it missed
    /// (<see cref="Missed"/>, a reconnecting client's) or the reset that says it cannot resume.
    /// </summary>
    internal sealed record Start(ulong After, Recorded[]? Missed, DaemonEvent? Reset);
}
