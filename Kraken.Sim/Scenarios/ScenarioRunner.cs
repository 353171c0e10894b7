// Runs one scenario on a simulated cluster and collects its result.
using System.Diagnostics;
using Kraken.Net.Execution;
using Kraken.Sim.Cluster;
using Kraken.Sim.Reports;
using Kraken.Sim.Topology;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Sim.Scenarios;

/// <summary>
/// Drives a <see cref="SimCluster"/> through a scenario: the clock jumps from event to event (or follows the
/// wall clock with <see cref="SimSettings.Realtime"/>) in steps of one virtual second, reporting progress
/// after each step, until the scenario's condition holds or the time limit passes.
/// </summary>
internal sealed partial class ScenarioRunner
{
    private static readonly double[] s_fractions = [0.5, 0.9, 0.99, 0.999, 1.0];
    private readonly SimSettings _settings;
    private readonly ScenarioOptions _scenario;
    private readonly IProgressSink _progress;
    private Stopwatch _wall = new();
    private TimeSpan _realtimeOrigin;

    public ScenarioRunner(SimSettings settings, ScenarioOptions scenario, IProgressSink? progress = null)
    {
        _settings = settings;
        _scenario = scenario;
        _progress = progress ?? NoProgress.Instance;
    }

    /// <summary>The cluster of the last run, for tests to inspect.</summary>
    public SimCluster? Cluster { get; private set; }

    public SimResult Run()
    {
        _scenario.Validate();
        _wall = Stopwatch.StartNew();
        var cluster = new SimCluster(_settings);
        Cluster = cluster;
        var t = cluster.Topology;
        var result = new SimResult
        {
            Scenario = ScenarioOptions.Name(_scenario.Kind),
            Profile = _settings.Profile == SyncProfile.KrakenGo ? "kraken-go" : "kraken",
            Seed = _settings.Seed,
            Nodes = t.Count,
            TierCounts = t.TierCounts[1..],
            Fanout = t.Fanout,
            Settings = Describe(_settings, _scenario),
        };

        if (_scenario.Kind == ScenarioKind.Change || _scenario.PartitionChange)
        {
            cluster.EnableChangeApplier();
        }

        var converged = _scenario.IsWarm ? WarmStart(cluster) : ColdBoot(cluster, result);
        result.Converged = converged && _scenario.Kind switch
        {
            ScenarioKind.Change => Change(cluster, result),
            ScenarioKind.KillParent => KillParent(cluster, result),
            ScenarioKind.Partition => Partition(cluster, result),
            _ => true,
        };

        Finish(cluster, result);
        return result;
    }

    /// <summary>
    /// Runs the cold boot until every node shows SYNC at the root. With <see cref="ScenarioOptions.PartitionAt"/> the
    /// first tier-1 subtree is cut off during it, and the boot is done only once the cut has healed as well.
    /// </summary>
    private bool ColdBoot(SimCluster cluster, SimResult result)
    {
        if (_scenario.PartitionAt is not { } at || _scenario.Kind != ScenarioKind.Coldboot)
        {
            var done = Drive(cluster, () => cluster.Root.InSync == cluster.Count, _settings.Limit, "coldboot", () => cluster.Root.InSync, cluster.Count);
            AddErrorReports(cluster, result);
            return done;
        }

        var cut = CutSubtree(cluster, 1, at, _scenario.PartitionFor);
        bool Done()
        {
            cut.Scan(cluster);
            return cut.Healed && cluster.Root.InSync == cluster.Count;
        }

        var ok = Drive(cluster, Done, _settings.Limit, "coldboot", () => cluster.Root.InSync, cluster.Count);
        AddCutFigures(result, cut);
        result.Add("100 % SYNC after heal", ok ? (cluster.Time.Elapsed - cut.HealAt).TotalSeconds : double.NaN, "s");
        AddErrorReports(cluster, result);
        return ok;
    }

    /// <summary>
    /// How often the root saw a node in ERROR during the boot (a dead adjacency, then a power cycle): under heavy loss
    /// these are false detections, and each costs a reboot.
    /// </summary>
    private static void AddErrorReports(SimCluster cluster, SimResult result)
    {
        if (cluster.Settings.Loss > 0 || result.Figures.Count > 0)
        {
            result.Add("ERROR reports at the root", cluster.Root.Transitions.Count(x => x.Error), "reports");
        }
    }

    /// <summary>
    /// Machines already on: daemons start tier by tier, each tier once the one above is in SYNC, at times spread
    /// uniformly over <see cref="ScenarioOptions.WarmSpread"/> (machines never start in the same microsecond,
    /// and a join storm of every node at one instant would only measure the storm).
    /// </summary>
    internal bool WarmStart(SimCluster cluster)
    {
        var t = cluster.Topology;
        var index = 1;
        for (var tier = 1; tier < t.TierCounts.Length; tier++)
        {
            var start = cluster.Time.Elapsed;
            for (var j = 0; j < t.TierCounts[tier]; j++, index++)
            {
                var node = index;
                var at = start + (_scenario.WarmSpread * cluster.Random.NextDouble());
                cluster.At(at, () => cluster.Revive(node));
            }

            var tt = tier;
            if (!Drive(cluster, () => cluster.Root.InSyncByTier[tt] == t.TierCounts[tt], _settings.Limit, $"start tier {tier}", () => cluster.Root.InSync, cluster.Count))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Runs the clock until <paramref name="done"/> holds or <paramref name="limit"/> of virtual time has passed.
    /// The condition is checked after every timer, so the run stops at the exact event that satisfied it.
    /// </summary>
    internal bool Drive(SimCluster cluster, Func<bool> done, TimeSpan limit, string phase, Func<int> count, int total)
    {
        var time = cluster.Time;
        var end = time.Elapsed + limit;
        var step = _settings.Realtime ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromSeconds(1);
        if (_settings.Realtime && _realtimeOrigin == TimeSpan.Zero)
        {
            _realtimeOrigin = time.Elapsed - _wall.Elapsed;
        }

        try
        {
            while (!done())
            {
                if (time.Elapsed >= end)
                {
                    return false;
                }

                var target = time.Elapsed + step < end ? time.Elapsed + step : end;
                if (_settings.Realtime)
                {
                    // Virtual time may not run ahead of the wall clock.
                    var wait = target - _realtimeOrigin - _wall.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        Thread.Sleep(wait);
                    }
                }

                if (!time.RunUntil(done, target - time.Elapsed) && time.Elapsed < target)
                {
                    time.AdvanceTo(target);
                }

                _progress.Report(phase, time.Elapsed, count(), total);
            }

            return true;
        }
        finally
        {
            _progress.Complete();
        }
    }

    private void Finish(SimCluster cluster, SimResult result)
    {
        var t = cluster.Topology;
        var first = cluster.Root.FirstSync;
        result.Simulated = cluster.Time.Elapsed;
        result.Wall = _wall.Elapsed;
        using (var p = Process.GetCurrentProcess())
        {
            result.PeakMemoryBytes = p.PeakWorkingSet64;
        }

        var all = new List<long>(t.Count);
        var byTier = new List<long>[t.TierCounts.Length];
        for (var k = 0; k < byTier.Length; k++)
        {
            byTier[k] = [];
        }

        for (var i = 1; i < first.Length; i++)
        {
            if (first[i] >= 0)
            {
                all.Add(first[i]);
                byTier[t.Tier[i]].Add(first[i]);
            }
        }

        all.Sort();
        result.SyncTimes = [.. s_fractions.Select(f => (f, Quantile(all, t.Count, f)))];
        AddStragglers(cluster, result);
        result.Boots = cluster.Hardware.Boots;
        result.PowerLosses = cluster.Hardware.PowerLosses;
        if (cluster.Settings.Dhcp == DhcpMode.Real && !_scenario.IsWarm)
        {
            result.Dhcp = DhcpResult.From(cluster);
        }

        var totals = cluster.TotalsByTier();
        result.Messages = totals.Sum(x => x.Messages);
        result.Bytes = totals.Sum(x => x.Bytes);
        var tiers = new List<TierResult>();
        var curves = new List<IReadOnlyList<(double, int)>>();
        for (var k = 0; k < t.TierCounts.Length; k++)
        {
            byTier[k].Sort();
            var allSync = k > 0 ? Quantile(byTier[k], t.TierCounts[k], 1.0) : null;
            tiers.Add(new TierResult(k, t.TierCounts[k], allSync, totals[k].Messages, totals[k].Bytes));
            if (k > 0)
            {
                curves.Add(Curve(byTier[k]));
            }
        }

        result.Tiers = tiers;
        result.Convergence = curves;
    }

    /// <summary>The time by which <paramref name="fraction"/> of <paramref name="population"/> had an entry in <paramref name="sorted"/>.</summary>
    internal static TimeSpan? Quantile(List<long> sorted, int population, double fraction)
    {
        var needed = (int)Math.Ceiling(fraction * population);
        needed = Math.Clamp(needed, 1, population);
        return sorted.Count >= needed ? TimeSpan.FromTicks(sorted[needed - 1]) : null;
    }

    /// <summary>A step curve of at most 400 points: (seconds, count reached by then).</summary>
    private static List<(double, int)> Curve(List<long> sorted)
    {
        var points = new List<(double, int)> { (0, 0) };
        if (sorted.Count == 0)
        {
            return points;
        }

        // Flat at zero until the first node, so the line does not slope in from the origin.
        points.Add((TimeSpan.FromTicks(sorted[0]).TotalSeconds, 0));
        var stride = Math.Max(1, sorted.Count / 400);
        for (var i = stride - 1; i < sorted.Count; i += stride)
        {
            points.Add((TimeSpan.FromTicks(sorted[i]).TotalSeconds, i + 1));
        }

        if (points[^1].Item2 != sorted.Count)
        {
            points.Add((TimeSpan.FromTicks(sorted[^1]).TotalSeconds, sorted.Count));
        }

        return points;
    }

    /// <summary>At most ten nodes not in SYNC at the root, with what the root and each node's Cfg parent show of it.</summary>
    private static void AddStragglers(SimCluster cluster, SimResult result)
    {
        const int Listed = 10;
        var t = cluster.Topology;
        var root = cluster.StoreOf(0);
        var stragglers = new List<Straggler>();
        var count = 0;
        for (var i = 1; i <= t.Count; i++)
        {
            if (cluster.Root.IsInSync(i))
            {
                continue;
            }

            if (++count > Listed)
            {
                continue; // counted, not listed
            }

            var id = t.Ids[i];
            var seen = root?.Get(StateView.Dsc, id);
            var parent = t.Parent[i];
            var parentStore = cluster.StoreOf(parent);
            var view = parentStore?.Get(StateView.Dsc, id) is { } d
                ? $"RunState {Text(d.Get(d.Schema.RunState))}, PhysState {Text(d.Get(d.Schema.PhysState))}"
                : "no daemon";
            var plan = cluster.ReconcileOf(parent)?.GetState(id) is { } r
                ? $"{r.Status}{(r.Step is { } step ? $" at {step.Mutation.Id}" : "")}, {r.Attempts} attempt(s){(r.LastFailure is { } f ? $", last failure: {f}" : "")}"
                : "none";
            stragglers.Add(new Straggler(SimTopology.Name(i), Text(seen?.Get(seen.Schema.RunState) ?? default), seen?.ParentId is { } p ? Name(cluster, p) : "none",
                SimTopology.Name(parent), view, plan));
        }

        result.NotInSync = count;
        result.Stragglers = stragglers;

        static string Text(StateValue v) => v.IsSet ? v.ToString() : "unset";
    }

    private static string Name(SimCluster cluster, NodeId id) => cluster.IndexOf(id) is var i and >= 0 ? SimTopology.Name(i) : id.ToString();

    private static List<KeyValuePair<string, string>> Describe(SimSettings s, ScenarioOptions o)
    {
        var list = new List<KeyValuePair<string, string>>
        {
            new("hello", Durations.Format(s.HelloInterval)),
            new("dead", Durations.Format(s.DeadInterval)),
            new("latency", Durations.Format(s.Latency)),
            new("jitter", Durations.Format(s.Jitter)),
            new("loss", s.Loss.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("dup", s.Duplicate.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("reorder", s.Reorder.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("reorder-delay", s.ReorderDelay == TimeSpan.Zero ? "1-2 latencies" : Durations.Format(s.ReorderDelay)),
            new("start", o.IsWarm ? "warm" : "cold"),
        };
        if (!o.IsWarm)
        {
            list.Add(new("power-on", DelayText.Format(s.PowerOn)));
            list.Add(new("pxe", DelayText.Format(s.Pxe)));
            list.Add(new("fetch", DelayText.Format(s.Fetch)));
            list.Add(new("kernel", DelayText.Format(s.Kernel)));
            list.Add(new("dhcp", s.Dhcp == DhcpMode.Real ? "real" : "delay"));
            list.Add(new("power-fail", s.PowerFailure.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return list;
    }
}
