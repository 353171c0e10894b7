// Cheapest-path search over the mutation graph (Dijkstra on a binary heap), with a plan cache.
using System.Text;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>The inputs a plan depends on: plans are cached by this key, so nodes that share it share one search.</summary>
internal readonly record struct PlanKey(UInt128 Start, UInt128 GoalMask, UInt128 GoalValues, UInt128 Constraints);

/// <summary>
/// Finds the cheapest sequence of mutations from a node's Dsc to a state that satisfies its Cfg. Dijkstra over
/// the graph with a binary heap; ties go to fewer steps, then to the first path found (edges are explored in
/// mutation-id order), so the same inputs always give the same plan. Results, including "no path", are cached
/// by (start state, goal, constraint bits): a bulk change over many nodes costs one search per distinct key.
/// Not thread-safe: each engine owns one.
/// </summary>
public sealed class Planner
{
    private readonly Dictionary<PlanKey, MutationPlan> _cache = [];
    private readonly int _cacheCapacity;

    // Search scratch space, reused between searches.
    private readonly Dictionary<UInt128, int> _ids = [];
    private readonly List<Entry> _entries = [];
    private readonly PriorityQueue<int, (long Cost, int Steps, int Seq)> _heap = new();
    private readonly List<(Mutation, UInt128)> _expanded = [];

    public Planner(MutationGraph graph, int cacheCapacity = 4096)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentOutOfRangeException.ThrowIfLessThan(cacheCapacity, 1);
        Graph = graph;
        _cacheCapacity = cacheCapacity;
    }

    public MutationGraph Graph { get; }

    /// <summary>Searches run (cache misses).</summary>
    public long Searches { get; private set; }

    /// <summary>Plans served from the cache.</summary>
    public long CacheHits { get; private set; }

    public int CachedPlans => _cache.Count;

    /// <summary>Plans one node from its Cfg and Dsc records.</summary>
    public MutationPlan Plan(NodeRecord cfg, NodeRecord dsc)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        ArgumentNullException.ThrowIfNull(dsc);
        return Plan(KeyOf(cfg, dsc), out _);
    }

    internal PlanKey KeyOf(NodeRecord cfg, NodeRecord dsc)
    {
        var layout = Graph.Layout;
        var (mask, values) = layout.Goal(cfg);
        return new PlanKey(layout.Normalize(layout.Project(dsc)), mask, values, Graph.Catalog.Constraints.Evaluate(cfg, dsc));
    }

    internal MutationPlan Plan(in PlanKey key, out bool cached)
    {
        if (_cache.TryGetValue(key, out var plan))
        {
            CacheHits++;
            cached = true;
            return plan;
        }

        cached = false;
        plan = Search(key);
        if (_cache.Count >= _cacheCapacity)
        {
            // Plans are pure functions of their key: dropping them all costs only re-computation.
            _cache.Clear();
        }

        _cache[key] = plan;
        return plan;
    }

    /// <summary>One uncached search.</summary>
    internal MutationPlan Search(in PlanKey key)
    {
        Searches++;
        var layout = Graph.Layout;
        var start = key.Start;
        var goalText = layout.Format(key.GoalValues, key.GoalMask);
        if ((start & key.GoalMask) == key.GoalValues)
        {
            return new MutationPlan(PlanStatus.Complete, [], 0, layout.Format(start), goalText, null, null, default);
        }

        _ids.Clear();
        _entries.Clear();
        _heap.Clear();
        var seq = 0;
        _ids[start] = 0;
        _entries.Add(new Entry(start, 0, 0, -1, null));
        _heap.Enqueue(0, (0, 0, seq++));
        while (_heap.TryDequeue(out var u, out var priority))
        {
            var current = _entries[u];
            if (current.Done || priority.Cost != current.Cost || priority.Steps != current.Steps)
            {
                continue;
            }

            current.Done = true;
            _entries[u] = current;
            if ((current.State & key.GoalMask) == key.GoalValues)
            {
                return BuildPath(u, key, goalText);
            }

            var vertex = Graph.VertexOf(current.State);
            ReadOnlySpan<int> targets = default;
            ReadOnlySpan<Mutation> mutations;
            if (vertex >= 0)
            {
                targets = Graph.EdgeTargets(vertex);
                mutations = Graph.EdgeMutations(vertex);
            }
            else
            {
                _expanded.Clear();
                MutationGraph.Expand(Graph.Catalog, current.State, _expanded);
                mutations = _expanded.Select(x => x.Item1).ToArray();
            }

            for (var i = 0; i < mutations.Length; i++)
            {
                var m = mutations[i];
                if (!m.AllowedBy(key.Constraints))
                {
                    continue;
                }

                var next = vertex >= 0 ? Graph.StateOf(targets[i]) : _expanded[i].Item2;
                var cost = current.Cost + m.Cost;
                var steps = current.Steps + 1;
                if (!_ids.TryGetValue(next, out var t))
                {
                    t = _entries.Count;
                    _ids[next] = t;
                    _entries.Add(new Entry(next, cost, steps, u, m));
                    _heap.Enqueue(t, (cost, steps, seq++));
                    continue;
                }

                var known = _entries[t];
                if (!known.Done && (cost < known.Cost || (cost == known.Cost && steps < known.Steps)))
                {
                    _entries[t] = new Entry(next, cost, steps, u, m);
                    _heap.Enqueue(t, (cost, steps, seq++));
                }
            }
        }

        return Unreachable(key, goalText);
    }

    private MutationPlan BuildPath(int end, in PlanKey key, string goalText)
    {
        var layout = Graph.Layout;
        var steps = new List<PlanStep>();
        for (var i = end; _entries[i].Via is { } m; i = _entries[i].Previous)
        {
            steps.Add(new PlanStep(m, _entries[_entries[i].Previous].State, _entries[i].State, layout));
        }

        steps.Reverse();
        return new MutationPlan(PlanStatus.Path, [.. steps], _entries[end].Cost, layout.Format(key.Start), goalText, null, null, default);
    }

    /// <summary>Explains a failed search: the first goal value no reachable state has, and what stops the mutations that would set it.</summary>
    private MutationPlan Unreachable(in PlanKey key, string goalText)
    {
        var layout = Graph.Layout;
        var catalog = Graph.Catalog;
        var startText = layout.Format(key.Start);
        for (var i = 0; i < layout.Count; i++)
        {
            if ((key.GoalMask & layout.FieldMask(i)) == 0)
            {
                continue;
            }

            var wanted = layout.Get(key.GoalValues, i);
            if (_entries.Exists(e => layout.Get(e.State, i) == wanted))
            {
                continue;
            }

            var url = layout.Urls[i];
            var value = layout.Value(i, wanted);
            var why = new StringBuilder();
            foreach (var m in catalog.Mutations)
            {
                if (!m.Mutates.Any(mv => ReferenceEquals(mv.Url, url) && mv.To == value))
                {
                    continue;
                }

                if (why.Length > 0)
                {
                    why.Append("; ");
                }

                why.Append(m.Id).Append(" (").Append(m.Module).Append(')');
                if (!m.AllowedBy(key.Constraints))
                {
                    why.Append(DescribeConstraints(m, key.Constraints));
                }
                else
                {
                    why.Append(" needs ").Append(layout.Format(m.PreValues, m.PreMask)).Append(", which no reachable state has");
                }
            }

            var reason = why.Length == 0
                ? $"{url.Path} = {value} is unreachable from {startText}: no registered mutation changes {url.Path} to {value}."
                : $"{url.Path} = {value} is unreachable from {startText}: {why}.";
            return new MutationPlan(PlanStatus.Unreachable, [], 0, startText, goalText, reason, url, value);
        }

        return new MutationPlan(
            PlanStatus.Unreachable, [], 0, startText, goalText,
            $"{goalText} is unreachable from {startText}: each value can be reached, but no reachable state has them all at once.",
            null, default);
    }

    private string DescribeConstraints(Mutation m, UInt128 constraints)
    {
        var set = Graph.Catalog.Constraints;
        var parts = new List<string>();
        for (var bit = 0; bit < set.Predicates.Length; bit++)
        {
            var flag = UInt128.One << bit;
            if ((m.ConstraintRequires & flag) != 0 && (constraints & flag) == 0)
            {
                parts.Add($"requires {set.Describe(bit)}, which does not hold for this node");
            }
            else if ((m.ConstraintExcludes & flag) != 0 && (constraints & flag) != 0)
            {
                parts.Add($"excludes {set.Describe(bit)}, which holds for this node");
            }
        }

        return " " + string.Join(" and ", parts);
    }

    private record struct Entry(UInt128 State, long Cost, int Steps, int Previous, Mutation? Via)
    {
        public bool Done;
    }
}
