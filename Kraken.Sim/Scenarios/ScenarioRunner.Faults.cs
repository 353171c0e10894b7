// The change, kill-parent and partition scenarios, each after the cluster has converged.
using Kraken.Sim.Cluster;
using Kraken.Sim.Reports;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Sim.Scenarios;

internal sealed partial class ScenarioRunner
{
    /// <summary>Sets the change URL to RUN in every node's Cfg at the root in one transaction; waits until every Dsc says RUN at the root.</summary>
    private bool Change(SimCluster cluster, SimResult result)
    {
        Settle(cluster);
        var root = cluster.StoreOf(0)!;
        var value = NodeEditor.Parse(cluster.ChangeUrl, "RUN");
        cluster.Root.Watch(cluster.ChangeUrl, value);
        var t0 = cluster.Time.Elapsed.Ticks;
        var ids = cluster.Topology.Ids;
        root.Batch(s =>
        {
            for (var i = 1; i < ids.Length; i++)
            {
                s.Set(StateView.Cfg, ids[i], cluster.ChangeUrl, value);
            }
        });

        var ok = Drive(cluster, () => cluster.Root.MatchedCount == cluster.Count, _settings.Limit, "change", () => cluster.Root.MatchedCount, cluster.Count);
        var down = Delays(cluster.CfgArrived!, t0, cluster.Count, v => v > 0);
        var round = Delays(cluster.Root.Matched!, t0, cluster.Count, v => v >= 0);
        AddDelays(result, "change reaches node (Cfg down)", down, cluster.Count);
        AddDelays(result, "change seen at root (Dsc up)", round, cluster.Count);
        return ok;
    }

    /// <summary>Kills tier-1 nodes (spread over tier 1); their children must re-join their backup parents.</summary>
    private bool KillParent(SimCluster cluster, SimResult result)
    {
        var t = cluster.Topology;
        var tier1 = t.TierCounts[1];
        if (_scenario.Kill < 1 || _scenario.Kill > tier1 / 2)
        {
            throw new ArgumentException($"--kill must be between 1 and half of tier 1 ({tier1 / 2}) so every orphan's backup parent survives (was {_scenario.Kill}).");
        }

        Settle(cluster);
        var victims = Enumerable.Range(0, _scenario.Kill).Select(j => 1 + (j * tier1 / _scenario.Kill)).ToArray();
        var orphans = victims.SelectMany(v => t.ChildrenOf(v).ToArray()).ToArray();
        var reparented = new long[orphans.Length];
        var moved = 0;
        for (var o = 0; o < orphans.Length; o++)
        {
            var slot = o;
            var backup = t.Ids[t.Backup[orphans[o]]];
            cluster.SyncOf(orphans[o])!.AdjacencyChanged += tr =>
            {
                if (tr.Role == AdjacencyRole.Parent && tr.To == AdjacencyState.Full && tr.Peer == backup && reparented[slot] == 0)
                {
                    reparented[slot] = cluster.Time.Elapsed.Ticks;
                    moved++;
                }
            };
        }

        var killAt = cluster.Time.Elapsed;
        foreach (var v in victims)
        {
            cluster.Crash(v);
        }

        var seen = cluster.Root.Transitions.Count;
        var start = seen;
        var errors = new long[victims.Length];
        var errorCount = 0;
        bool Detected()
        {
            for (; seen < cluster.Root.Transitions.Count; seen++)
            {
                var (node, ticks, error) = cluster.Root.Transitions[seen];
                var k = Array.IndexOf(victims, node);
                if (error && k >= 0 && errors[k] == 0)
                {
                    errors[k] = ticks;
                    errorCount++;
                }
            }

            return errorCount == victims.Length && moved == orphans.Length;
        }

        var limit = (_settings.DeadInterval * 3) + TimeSpan.FromMinutes(5);
        var ok = Drive(cluster, Detected, limit, "kill-parent", () => moved, orphans.Length);
        result.Add("killed tier-1 nodes", victims.Length, "nodes");
        result.Add("orphaned children", orphans.Length, "nodes");
        AddDelays(result, "root sees ERROR", Delays(errors, killAt.Ticks, victims.Length, v => v > 0), victims.Length);
        AddDelays(result, "children re-parented", Delays(reparented, killAt.Ticks, orphans.Length, v => v > 0), orphans.Length);
        if (!ok)
        {
            return false;
        }

        // Recovery: the root's reconcile engine power-cycles a node it sees in ERROR (ONtoOFF, OFFtoON, boot,
        // join); with --revive the dead hosts also come back by themselves at that time.
        if (_scenario.Revive > TimeSpan.Zero)
        {
            cluster.At(killAt + _scenario.Revive, () =>
            {
                foreach (var v in victims)
                {
                    cluster.Revive(v);
                }
            });
        }

        var back = new long[victims.Length];
        var backCount = 0;
        var scanned = start;
        bool Recovered()
        {
            for (; scanned < cluster.Root.Transitions.Count; scanned++)
            {
                var (node, ticks, error) = cluster.Root.Transitions[scanned];
                var k = Array.IndexOf(victims, node);
                if (!error && k >= 0 && errors[k] != 0 && back[k] == 0)
                {
                    back[k] = ticks;
                    backCount++;
                }
            }

            return backCount == victims.Length;
        }

        ok = Drive(cluster, Recovered, TimeSpan.FromMinutes(15), "recovery", () => backCount, victims.Length);
        AddDelays(result, "root sees SYNC again", Delays(back, killAt.Ticks, victims.Length, v => v > 0), victims.Length);
        return ok;
    }

    /// <summary>
    /// Cuts the first tier-1 node and its subtree off the root (sync traffic and BMCs alike), heals the cut,
    /// and waits until the root shows the node in SYNC again.
    /// </summary>
    private bool Partition(SimCluster cluster, SimResult result)
    {
        var t = cluster.Topology;
        Settle(cluster);
        const int victim = 1;
        var rootEp = SimCluster.EndPointOf(t.Ids[0]);
        var victimEp = SimCluster.EndPointOf(t.Ids[victim]);
        long nodeDetected = 0;
        cluster.SyncOf(victim)!.AdjacencyChanged += tr =>
        {
            if (tr.Role == AdjacencyRole.Parent && tr.To == AdjacencyState.Dead && nodeDetected == 0)
            {
                nodeDetected = cluster.Time.Elapsed.Ticks;
            }
        };

        // The cut takes the subtree's management network too: its BMCs do not answer the root meanwhile.
        var subtree = new[] { victim }.Concat(t.ChildrenOf(victim).ToArray()).Select(i => t.Ids[i]).ToArray();
        var cutAt = cluster.Time.Elapsed;
        cluster.Network.Partition(rootEp, victimEp);
        foreach (var id in subtree)
        {
            cluster.Power.SetSilent(id, true);
        }

        long rootDetected = 0;
        long recovered = 0;
        var healAt = cutAt + _scenario.PartitionFor;
        var healed = false;
        cluster.At(healAt, () =>
        {
            cluster.Network.Heal(rootEp, victimEp);
            foreach (var id in subtree)
            {
                cluster.Power.SetSilent(id, false);
            }

            healed = true;
        });
        var seen = 0;
        bool Done()
        {
            for (; seen < cluster.Root.Transitions.Count; seen++)
            {
                var (node, ticks, error) = cluster.Root.Transitions[seen];
                if (node != victim)
                {
                    continue;
                }

                if (error && rootDetected == 0)
                {
                    rootDetected = ticks;
                }
                else if (!error && healed && recovered == 0)
                {
                    recovered = ticks;
                }
            }

            return recovered != 0;
        }

        var ok = Drive(cluster, Done, _scenario.PartitionFor + TimeSpan.FromMinutes(5), "partition", () => healed ? 1 : 0, 1);
        result.Add("partitioned subtree", 1 + t.ChildrenOf(victim).Length, "nodes");
        result.Add("partition lasted", _scenario.PartitionFor.TotalSeconds, "s");
        result.Add("root sees ERROR after", rootDetected == 0 ? double.NaN : TimeSpan.FromTicks(rootDetected - cutAt.Ticks).TotalSeconds, "s");
        result.Add("cut node sees its parent dead after", nodeDetected == 0 ? double.NaN : TimeSpan.FromTicks(nodeDetected - cutAt.Ticks).TotalSeconds, "s");
        result.Add("root sees SYNC again after heal", recovered == 0 ? double.NaN : TimeSpan.FromTicks(recovered - healAt.Ticks).TotalSeconds, "s");
        return ok && rootDetected != 0;
    }

    private void Settle(SimCluster cluster) => cluster.Time.Advance(_scenario.Settle);

    private static List<long> Delays(long[] at, long from, int population, Func<long, bool> reached)
    {
        var list = new List<long>(population);
        foreach (var v in at)
        {
            if (reached(v))
            {
                list.Add(v - from);
            }
        }

        list.Sort();
        return list;
    }

    private static void AddDelays(SimResult result, string what, List<long> sorted, int population)
    {
        foreach (var (f, label) in new[] { (0.5, "p50"), (0.99, "p99"), (1.0, "max") })
        {
            var q = Quantile(sorted, population, f);
            result.Add($"{what} {label}", q is { } v ? v.TotalSeconds : double.NaN, "s");
        }
    }
}
