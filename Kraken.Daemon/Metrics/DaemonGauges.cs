// The daemon's own instruments: nodes by state, adjacencies by state, durable commits (meter Kraken.Daemon).
using System.Diagnostics.Metrics;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;

namespace Kraken.Daemon.Metrics;

/// <summary>
/// Observable gauges computed at scrape time from the daemon's store and sync engine, so they cost nothing
/// between scrapes: <c>kraken_nodes{view,run_state}</c>, <c>kraken_nodes_phys{view,phys_state}</c>,
/// <c>kraken_adjacencies{role,state}</c>, <c>kraken_cfg_durable_commits_total</c>.
/// </summary>
public sealed class DaemonGauges : IDisposable
{
    public const string MeterName = "Kraken.Daemon";

    private readonly Meter _meter = new(MeterName);
    private readonly KrakenDaemon _daemon;

    public DaemonGauges(KrakenDaemon daemon)
    {
        _daemon = daemon;
        _meter.CreateObservableGauge("kraken.nodes", () => CountBy(r => Text(r, r.Schema.RunState), "run_state"), "{node}", "Nodes by view and /RunState.");
        _meter.CreateObservableGauge("kraken.nodes.phys", () => CountBy(r => Text(r, r.Schema.PhysState), "phys_state"), "{node}", "Nodes by view and /PhysState.");
        _meter.CreateObservableGauge("kraken.adjacencies", Adjacencies, "{adjacency}", "Sync adjacencies by role and state.");
        _meter.CreateObservableCounter("kraken.cfg.durable_commits", () => _daemon.Durable?.Commits ?? 0, "{transaction}", "Transactions committed to the durable Cfg store.");
    }

    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private static string Text(NodeRecord record, StateUrl url) => url.Get(record) is { IsSet: true } v ? v.ToString() : "UNSET";

    private IEnumerable<Measurement<long>> CountBy(Func<NodeRecord, string> key, string label)
    {
        foreach (var view in new[] { StateView.Cfg, StateView.Dsc })
        {
            var v = view == StateView.Cfg ? "cfg" : "dsc";
            foreach (var g in _daemon.Store.Snapshot(view).GroupBy(key).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                yield return new Measurement<long>(g.Count(), new("view", v), new(label, g.Key));
            }
        }
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
