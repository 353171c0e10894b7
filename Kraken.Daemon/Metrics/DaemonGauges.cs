// The daemon's own instruments: nodes by state, adjacencies by state, durable commits, the API's refusals and
// dropped event subscribers (meter Kraken.Daemon).
using System.Diagnostics.Metrics;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Daemon.Metrics;

/// <summary>
/// Observable gauges computed at scrape time from the daemon's store and sync engine, so they cost nothing
/// between scrapes: <c>kraken_nodes{view,run_state}</c>, <c>kraken_nodes_phys{view,phys_state}</c>,
/// <c>kraken_adjacencies{role,state}</c>, <c>kraken_cfg_transactions_committed_total</c>,
/// <c>kraken_cfg_transactions_refused_total</c>, <c>kraken_api_subscribers_dropped_total{reason}</c>,
/// <c>kraken_api_large_responses_refused_total</c>. The meter is scoped to its daemon's exporter, so a process
/// running several daemons exports each one's gauges from its own /metrics only.
/// </summary>
public sealed class DaemonGauges : IDisposable
{
    public const string MeterName = "Kraken.Daemon";

    private static readonly AdjacencyRole[] s_roles = Enum.GetValues<AdjacencyRole>();
    private static readonly AdjacencyState[] s_states = Enum.GetValues<AdjacencyState>();

    private readonly Meter _meter;
    private readonly KrakenDaemon _daemon;
    private Counts? _counts;

    public DaemonGauges(KrakenDaemon daemon, Events.EventHub events, Api.LargeResponseGate gate, PrometheusExporter exporter)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(gate);
        _meter = new Meter(new MeterOptions(MeterName) { Scope = exporter });
        _daemon = daemon;
        _meter.CreateObservableGauge("kraken.nodes", () => Measure(Tally().RunStates, "run_state"), "{node}", "Nodes by view and /RunState.");
        _meter.CreateObservableGauge("kraken.nodes.phys", () => Measure(Tally().PhysStates, "phys_state"), "{node}", "Nodes by view and /PhysState.");
        _meter.CreateObservableGauge("kraken.adjacencies", Adjacencies, "{adjacency}", "Sync adjacencies by role and state.");
        _meter.CreateObservableCounter("kraken.cfg.transactions.committed", () => _daemon.Durable?.Commits ?? 0, "{transaction}", "Transactions committed to the durable Cfg store.");
        _meter.CreateObservableCounter("kraken.cfg.transactions.refused", () => _daemon.Durable?.Refused ?? 0, "{transaction}", "Cfg transactions the durable store refused (disk full, I/O error); each left the store as it was.");
        _meter.CreateObservableCounter(
            "kraken.api.subscribers.dropped",
            () => new[] { new Measurement<long>(events.DroppedDeadline, new KeyValuePair<string, object?>("reason", "deadline")), new Measurement<long>(events.DroppedOverflow, new KeyValuePair<string, object?>("reason", "overflow")) },
            "{subscriber}",
            "Event-stream subscribers disconnected: a write outlasted Api:EventWriteTimeout (deadline) or the buffer of Api:EventBuffer events filled (overflow).");
        _meter.CreateObservableCounter("kraken.api.large_responses.refused", () => gate.Refused, "{request}", "Exports and whole node lists refused with 503 because Api:MaxConcurrentExports were being written.");
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

    /// <summary>Every role and state, zero included, so a dashboard has a series before the first adjacency.</summary>
    private IEnumerable<Measurement<long>> Adjacencies()
    {
        var counts = _daemon.SyncEndPoint is null ? [] : _daemon.Sync.Adjacencies.CountBy(a => (a.Role, a.State)).ToDictionary();
        foreach (var role in s_roles)
        {
            foreach (var state in s_states)
            {
                yield return new Measurement<long>(counts.GetValueOrDefault((role, state)), new("role", role.ToString().ToLowerInvariant()), new("state", state.ToString().ToLowerInvariant()));
            }
        }
    }
}
