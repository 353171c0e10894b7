// The daemon's own instruments: nodes by state, adjacencies by state, durable commits, the API's refusals and
// dropped event subscribers (meter Kraken.Daemon).
using System.Diagnostics.Metrics;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;

namespace Kraken.Daemon.Metrics;

/// <summary>
/// Observable gauges computed at scrape time from the daemon's store and sync engine, so they cost nothing
/// between scrapes: <c>kraken_nodes{view,run_state}</c>, <c>kraken_nodes_phys{view,phys_state}</c>,
/// <c>kraken_adjacencies{role,state}</c>, <c>kraken_cfg_durable_commits_total</c>,
/// <c>kraken_api_subscribers_dropped_total{reason}</c>, <c>kraken_api_large_responses_refused_total</c>.
/// </summary>
public sealed class DaemonGauges : IDisposable
{
    public const string MeterName = "Kraken.Daemon";

    private readonly Meter _meter = new(MeterName);
    private readonly KrakenDaemon _daemon;
    private Counts? _counts;

    public DaemonGauges(KrakenDaemon daemon, Events.EventHub events, Api.LargeResponseGate gate)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(gate);
        _daemon = daemon;
        _meter.CreateObservableGauge("kraken.nodes", () => Measure(Tally().RunStates, "run_state"), "{node}", "Nodes by view and /RunState.");
        _meter.CreateObservableGauge("kraken.nodes.phys", () => Measure(Tally().PhysStates, "phys_state"), "{node}", "Nodes by view and /PhysState.");
        _meter.CreateObservableGauge("kraken.adjacencies", Adjacencies, "{adjacency}", "Sync adjacencies by role and state.");
        _meter.CreateObservableCounter("kraken.cfg.durable_commits", () => _daemon.Durable?.Commits ?? 0, "{transaction}", "Transactions committed to the durable Cfg store.");
        _meter.CreateObservableCounter("kraken.cfg.durable_refused", () => _daemon.Durable?.Refused ?? 0, "{transaction}", "Cfg transactions the durable store refused (disk full, I/O error); each left the store as it was.");
        _meter.CreateObservableCounter(
            "kraken.api.subscribers_dropped",
            () => new[] { new Measurement<long>(events.DroppedDeadline, new KeyValuePair<string, object?>("reason", "deadline")), new Measurement<long>(events.DroppedOverflow, new KeyValuePair<string, object?>("reason", "overflow")) },
            "{subscriber}",
            "Event-stream subscribers disconnected: a write outlasted Api:EventWriteTimeout (deadline) or the buffer of Api:EventBuffer events filled (overflow).");
        _meter.CreateObservableCounter("kraken.api.large_responses_refused", () => gate.Refused, "{request}", "Exports and whole node lists refused with 503 because Api:MaxConcurrentExports were being written.");
    }

    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private static string Text(StateValue value) => value.IsSet ? value.ToString() : "UNSET";

    /// <summary>
    /// One pass over the store counts both gauges of a scrape (no snapshot, no sort); the result is reused for
    /// a second so the two gauges of one scrape agree and cost one pass.
    /// </summary>
    private Counts Tally()
    {
        var now = _daemon.Time.GetTimestamp();
        var cached = Volatile.Read(ref _counts);
        if (cached is not null && _daemon.Time.GetElapsedTime(cached.Taken, now) < TimeSpan.FromSeconds(1))
        {
            return cached;
        }

        var counts = new Counts(now);
        var store = _daemon.Store;
        foreach (var id in store.Ids)
        {
            if (store.TryGet(id, out var cfg, out var dsc))
            {
                // Counted by value (a struct), named once per distinct value when measured.
                Add(counts.RunStates, ("cfg", store.Schema.RunState.Get(cfg)));
                Add(counts.RunStates, ("dsc", store.Schema.RunState.Get(dsc)));
                Add(counts.PhysStates, ("cfg", store.Schema.PhysState.Get(cfg)));
                Add(counts.PhysStates, ("dsc", store.Schema.PhysState.Get(dsc)));
            }
        }

        Volatile.Write(ref _counts, counts);
        return counts;

        static void Add(Dictionary<(string, StateValue), long> d, (string, StateValue) key) =>
            d[key] = d.TryGetValue(key, out var n) ? n + 1 : 1;
    }

    private static IEnumerable<Measurement<long>> Measure(Dictionary<(string View, StateValue Value), long> counts, string label) =>
        counts.Select(kv => (kv.Key.View, Name: Text(kv.Key.Value), Count: kv.Value))
            .OrderBy(x => x.View, StringComparer.Ordinal).ThenBy(x => x.Name, StringComparer.Ordinal)
            .Select(x => new Measurement<long>(x.Count, new("view", x.View), new(label, x.Name)));

    private sealed class Counts(long taken)
    {
        public long Taken { get; } = taken;

        public Dictionary<(string View, StateValue Value), long> RunStates { get; } = [];

        public Dictionary<(string View, StateValue Value), long> PhysStates { get; } = [];
    }

    private IEnumerable<Measurement<long>> Adjacencies()
    {
        if (_daemon.SyncEndPoint is null)
        {
            yield break;
        }

        foreach (var g in _daemon.Sync.Adjacencies.GroupBy(a => (a.Role, a.State)))
        {
            yield return new Measurement<long>(g.Count(), new("role", g.Key.Role.ToString().ToLowerInvariant()), new("state", g.Key.State.ToString().ToLowerInvariant()));
        }
    }
}
