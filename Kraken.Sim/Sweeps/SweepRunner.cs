// Sweeps: for each hello interval, dead multiple and fan-out, a parent with that many children is measured.
using System.Diagnostics;
using Kraken.Net.Execution;
using Kraken.Sim.Cluster;
using Kraken.Sim.Scenarios;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Sim.Sweeps;

/// <summary>
/// Runs one small cluster per combination: the root as the parent under test with <c>fanout</c> children,
/// started warm. Each point measures, in this order: steady-state bytes per node per second (no loss), change
/// propagation (a Cfg change for every child at the root until each child's Dsc shows it at the root), false
/// positives (adjacencies declared dead while both ends live, with the sweep's loss), and failure detection
/// (children crash; time until the root shows them ERROR).
/// </summary>
internal sealed class SweepRunner(SimSettings settings, IProgressSink progress)
{
    /// <summary>Loss used for the false-positive window when <c>--loss</c> is not given.</summary>
    public const double DefaultLoss = 0.05;

    public SweepResult Run(IReadOnlyList<TimeSpan> hellos, IReadOnlyList<int> deadMultiples, IReadOnlyList<int> fanouts)
    {
        if (hellos.Count == 0 || deadMultiples.Count == 0 || fanouts.Count == 0)
        {
            throw new ArgumentException("a sweep needs at least one value each of --hello, --dead-mult and --fanout.");
        }

        if (deadMultiples.Any(m => m < 2))
        {
            throw new ArgumentException("--dead-mult values must be at least 2 (the dead interval must exceed the hello interval).");
        }

        var wall = Stopwatch.StartNew();
        var loss = settings.Loss > 0 ? settings.Loss : DefaultLoss;
        var result = new SweepResult
        {
            Profile = settings.Profile == SyncProfile.KrakenGo ? "kraken-go" : "kraken",
            Seed = settings.Seed,
            Loss = loss,
            Window = TimeSpan.FromMinutes(2),
        };
        foreach (var fanout in fanouts)
        {
            foreach (var hello in hellos)
            {
                foreach (var mult in deadMultiples)
                {
                    result.Points.Add(Measure(hello, mult, fanout, loss, result.Window));
                }
            }
        }

        result.Wall = wall.Elapsed;
        return result;
    }

    private SweepPoint Measure(TimeSpan hello, int mult, int fanout, double loss, TimeSpan window)
    {
        // The configured intervals as they are: no stretching under the sweep's loss, so each point is its own choice.
        var s = settings with { Hello = hello, Dead = hello * mult, MaxDead = hello * mult, Fanout = [fanout], Nodes = fanout, Tiers = 1, Loss = 0 };
        var runner = new ScenarioRunner(s, new ScenarioOptions { Warm = true }, progress);
        var cluster = new SimCluster(s);
        cluster.EnableChangeApplier();
        var phase = $"h={Durations.Format(hello)} x{mult} f={fanout}";
        if (!runner.WarmStart(cluster))
        {
            throw new InvalidOperationException($"{phase}: the cluster did not start.");
        }

        // Past the joins' initial exchanges and damping holds.
        cluster.Time.Advance(TimeSpan.FromTicks(Math.Max(s.DeadInterval.Ticks, TimeSpan.FromSeconds(10).Ticks)));

        // Steady-state traffic.
        var bytes0 = cluster.TotalsByTier().Sum(t => t.Bytes);
        cluster.Time.Advance(window);
        var bytesPerNodePerSecond = (cluster.TotalsByTier().Sum(t => t.Bytes) - bytes0) / (double)fanout / window.TotalSeconds;

        // Change propagation: parent Cfg -> child -> child's Dsc back at the parent.
        var value = NodeEditor.Parse(cluster.ChangeUrl, "RUN");
        cluster.Root.Watch(cluster.ChangeUrl, value);
        var t0 = cluster.Time.Elapsed.Ticks;
        cluster.StoreOf(0)!.Batch(store =>
        {
            for (var i = 1; i <= fanout; i++)
            {
                store.Set(StateView.Cfg, cluster.Topology.Ids[i], cluster.ChangeUrl, value);
            }
        });
        runner.Drive(cluster, () => cluster.Root.MatchedCount == fanout, TimeSpan.FromMinutes(10), phase + " change", () => cluster.Root.MatchedCount, fanout);
        var matched = cluster.Root.Matched!.Skip(1).Where(v => v >= 0).Select(v => v - t0).Order().ToList();
        double? p50 = ScenarioRunner.Quantile(matched, fanout, 0.5)?.TotalSeconds;
        double? pMax = ScenarioRunner.Quantile(matched, fanout, 1.0)?.TotalSeconds;

        // False positives: adjacencies declared dead (at either end) while both ends live, under loss.
        long deadTransitions = 0;
        for (var i = 0; i <= fanout; i++)
        {
            cluster.SyncOf(i)!.AdjacencyChanged += tr =>
            {
                if (tr.To == AdjacencyState.Dead)
                {
                    deadTransitions++;
                }
            };
        }

        cluster.Network.Conditions = cluster.Network.Conditions with { Loss = loss };
        cluster.Time.Advance(window);
        cluster.Network.Conditions = cluster.Network.Conditions with { Loss = 0 };
        var falsePositives = deadTransitions;
        var rate = falsePositives / (double)fanout / window.TotalHours;

        // Let every wrongly dropped adjacency re-join, and every silence from lost hellos end, before measuring detection.
        cluster.Time.Advance(s.DeadInterval);
        var settled = cluster.Time.Elapsed + TimeSpan.FromMinutes(10);
        while (!AllFull(cluster, fanout) && cluster.Time.Elapsed < settled)
        {
            cluster.Time.Advance(s.HelloInterval);
        }

        // Failure detection: a sixteenth of the children (at least one) crash.
        var victims = Enumerable.Range(0, Math.Max(1, fanout / 16)).Select(j => 1 + (j * fanout / Math.Max(1, fanout / 16))).ToArray();
        var crashAt = cluster.Time.Elapsed.Ticks;
        var seen = cluster.Root.Transitions.Count;
        foreach (var v in victims)
        {
            cluster.Crash(v);
        }

        var detected = new List<double>();
        var found = new HashSet<int>();
        runner.Drive(cluster, () =>
        {
            for (; seen < cluster.Root.Transitions.Count; seen++)
            {
                var (node, ticks, error) = cluster.Root.Transitions[seen];
                if (error && Array.IndexOf(victims, node) >= 0 && found.Add(node))
                {
                    detected.Add(TimeSpan.FromTicks(ticks - crashAt).TotalSeconds);
                }
            }

            return found.Count == victims.Length;
        }, (s.DeadInterval * 3) + TimeSpan.FromMinutes(1), phase + " detect", () => found.Count, victims.Length);

        return new SweepPoint(hello, mult, s.DeadInterval, fanout,
            detected.Count == victims.Length ? detected.Average() : null,
            detected.Count == victims.Length ? detected.Max() : null,
            falsePositives, rate, p50, pMax, bytesPerNodePerSecond);
    }

    private static bool AllFull(SimCluster cluster, int fanout)
    {
        if (cluster.SyncOf(0)!.Adjacencies.Count(a => a.State == AdjacencyState.Full) != fanout)
        {
            return false;
        }

        for (var i = 1; i <= fanout; i++)
        {
            if (cluster.SyncOf(i)!.Parent?.State != AdjacencyState.Full)
            {
                return false;
            }
        }

        return cluster.Root.InSync == fanout;
    }
}
