// The change, kill-parent and partition scenarios, each after the cluster has converged.
using Kraken.Net.Transport;
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
        Settle(cluster, faults: false);
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
    /// Cuts the first tier-1 node and its subtree off the rest of the cluster (sync traffic and BMCs alike), heals
    /// the cut, and waits until the root shows the node in SYNC again. With <see cref="ScenarioOptions.PartitionChange"/>
    /// the root changes every node's Cfg half-way through the cut, and the run also waits until every node's Dsc
    /// shows the change at the root.
    /// </summary>
    private bool Partition(SimCluster cluster, SimResult result)
    {
        var t = cluster.Topology;
        Settle(cluster);
        const int victim = 1;
        long nodeDetected = 0;
        cluster.SyncOf(victim)!.AdjacencyChanged += tr =>
        {
            if (tr.Role == AdjacencyRole.Parent && tr.To == AdjacencyState.Dead && nodeDetected == 0)
            {
                nodeDetected = cluster.Time.Elapsed.Ticks;
            }
        };

        var cutAt = cluster.Time.Elapsed;
        var cut = CutSubtree(cluster, victim, cutAt, _scenario.PartitionFor);
        var changeAt = cutAt + (_scenario.PartitionFor / 2);
        if (_scenario.PartitionChange)
        {
            cluster.At(changeAt, () => ChangeEverything(cluster));
        }

        bool Done()
        {
            cut.Scan(cluster);
            return cut.Recovered != 0 && (!_scenario.PartitionChange || cluster.Root.MatchedCount == cluster.Count);
        }

        var ok = Drive(cluster, Done, _scenario.PartitionFor + TimeSpan.FromMinutes(15), "partition", () => cut.Healed ? 1 : 0, 1);
        AddCutFigures(result, cut);
        result.Add("cut node sees its parent dead after", nodeDetected == 0 ? double.NaN : TimeSpan.FromTicks(nodeDetected - cutAt.Ticks).TotalSeconds, "s");
        result.Add("root sees SYNC again after heal", cut.Recovered == 0 ? double.NaN : TimeSpan.FromTicks(cut.Recovered - cut.HealAt.Ticks).TotalSeconds, "s");
        if (_scenario.PartitionChange)
        {
            // Outside the cut the change goes round at once; inside it must wait for the heal (and whatever
            // recovery follows it): the time after the heal until every node's Dsc shows it is the reconvergence.
            var members = new HashSet<int>(cut.Members);
            var outside = new long[cluster.Count - members.Count];
            var inside = new long[members.Count];
            var matched = cluster.Root.Matched!;
            for (int i = 1, o = 0, n = 0; i < matched.Length; i++)
            {
                if (members.Contains(i))
                {
                    inside[n++] = matched[i];
                }
                else
                {
                    outside[o++] = matched[i];
                }
            }

            result.Add("changed nodes", cluster.Count, "nodes");
            AddDelays(result, "change seen at root outside the cut", Delays(outside, changeAt.Ticks, outside.Length, v => v >= 0), outside.Length);
            AddDelays(result, "change seen at root inside the cut, after heal", Delays(inside, cut.HealAt.Ticks, inside.Length, v => v >= 0), inside.Length);
        }

        return ok && cut.RootDetected != 0;
    }

    /// <summary>Sets the change URL to RUN in every node's Cfg at the root in one transaction, and watches for it in every Dsc.</summary>
    private static void ChangeEverything(SimCluster cluster)
    {
        var root = cluster.StoreOf(0)!;
        var value = NodeEditor.Parse(cluster.ChangeUrl, "RUN");
        cluster.Root.Watch(cluster.ChangeUrl, value);
        var ids = cluster.Topology.Ids;
        root.Batch(s =>
        {
            for (var i = 1; i < ids.Length; i++)
            {
                s.Set(StateView.Cfg, ids[i], cluster.ChangeUrl, value);
            }
        });
    }

    /// <summary>
    /// From <paramref name="at"/> for <paramref name="duration"/>, <paramref name="victim"/> and everything below it are
    /// split off the rest of the network (they still reach each other) and the victim's BMC does not answer its
    /// parent: a rack whose uplink, management network included, has failed. The BMCs below the victim keep
    /// answering it, their only caller, from inside the cut. The returned record fills in as the run goes.
    /// </summary>
    private static SubtreeCut CutSubtree(SimCluster cluster, int victim, TimeSpan at, TimeSpan duration)
    {
        var t = cluster.Topology;
        var members = new List<int> { victim };
        for (var k = 0; k < members.Count; k++)
        {
            foreach (var child in t.ChildrenOf(members[k]))
            {
                members.Add(child);
            }
        }

        var ids = members.Select(i => t.Ids[i]).ToArray();
        var cut = new SubtreeCut(victim, [.. members], at, at + duration);
        NetworkSplit? split = null;
        cluster.At(at, () =>
        {
            split = cluster.Network.Split(ids.Select(SimCluster.EndPointOf));
            cluster.Power.SetSilent(t.Ids[victim], true);

            cut.Started = true;
            cut.Seen = cluster.Root.Transitions.Count;
        });
        cluster.At(at + duration, () =>
        {
            cluster.Network.Heal(split!);
            cluster.Power.SetSilent(t.Ids[victim], false);

            cut.Healed = true;
        });
        return cut;
    }

    private static void AddCutFigures(SimResult result, SubtreeCut cut)
    {
        result.Add("partitioned subtree", cut.Members.Length, "nodes");
        result.Add("partition at", cut.At.TotalSeconds, "s");
        result.Add("partition lasted", (cut.HealAt - cut.At).TotalSeconds, "s");
        result.Add("root sees ERROR after", cut.RootDetected == 0 ? double.NaN : TimeSpan.FromTicks(cut.RootDetected - cut.At.Ticks).TotalSeconds, "s");
    }

    /// <summary>A subtree's cut: its window, and when the root saw its top node in ERROR and in SYNC again.</summary>
    private sealed class SubtreeCut(int victim, int[] members, TimeSpan at, TimeSpan healAt)
    {
        public int Victim { get; } = victim;

        public int[] Members { get; } = members;

        public TimeSpan At { get; } = at;

        public TimeSpan HealAt { get; } = healAt;

        public bool Started { get; set; }

        public bool Healed { get; set; }

        /// <summary>Root transitions already looked at.</summary>
        public int Seen { get; set; }

        public long RootDetected { get; private set; }

        public long Recovered { get; private set; }

        public void Scan(SimCluster cluster)
        {
            if (!Started)
            {
                return;
            }

            var transitions = cluster.Root.Transitions;
            for (; Seen < transitions.Count; Seen++)
            {
                var (node, ticks, error) = transitions[Seen];
                if (node != Victim)
                {
                    continue;
                }

                if (error && RootDetected == 0)
                {
                    RootDetected = ticks;
                }
                else if (!error && Healed && Recovered == 0)
                {
                    Recovered = ticks;
                }
            }
        }
    }

    /// <summary>
    /// The scenario's quiet time; before a fault, counted after every adjacency's loss warm-up (until then a young
    /// adjacency stretches its dead interval, so a fault would measure a join's caution, not the steady state).
    /// </summary>
    private void Settle(SimCluster cluster, bool faults = true) =>
        cluster.Time.Advance((faults ? cluster.Settings.HelloInterval * (SyncOptions.LossWarmUpFrames + 2) : TimeSpan.Zero) + _scenario.Settle);

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
