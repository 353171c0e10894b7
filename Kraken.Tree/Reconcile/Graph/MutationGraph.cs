// The mutation graph of a module set: partial states over the mutated URLs, joined by mutations.
using System.Collections.Immutable;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>A vertex: the values of the mutated URLs that are known in this state (the rest are unknown).</summary>
public sealed record GraphVertex(int Id, ImmutableArray<KeyValuePair<StateUrl, StateValue>> Values, string Label);

/// <summary>An edge: <see cref="Mutation"/> takes a node from vertex <see cref="From"/> to <see cref="To"/>.</summary>
public sealed record GraphEdge(int Id, int From, int To, Mutation Mutation);

/// <summary>
/// Built once per module set. Vertices are partial states over the URLs that mutations change (a URL whose
/// value cannot be known in a state, like the PXE state of a powered-off node, is absent); edges are the
/// mutations whose from-values and requirements hold there. Requirements on other URLs (<c>/Platform</c>) are
/// kept on the edges as constraints and checked per node when planning. The vertices are those reachable from
/// "nothing known" and from every single value a module can discover, a mutation can produce, or a failure
/// can write; the planner also handles states outside that set. Vertex and edge ids are stable: they follow
/// from the declarations alone (breadth-first, mutations in id order).
/// </summary>
public sealed partial class MutationGraph
{
    private readonly Dictionary<UInt128, int> _index = [];
    private readonly UInt128[] _states;
    private readonly int[] _edgeStart;
    private readonly int[] _edgeTo;
    private readonly Mutation[] _edgeMutation;

    public MutationGraph(MutationCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        Catalog = catalog;
        var layout = catalog.Layout;

        var states = new List<UInt128>();
        var queue = new Queue<UInt128>();
        void Visit(UInt128 s)
        {
            if (_index.TryAdd(s, states.Count))
            {
                states.Add(s);
                queue.Enqueue(s);
            }
        }

        Visit(layout.Normalize(0));
        foreach (var seed in Seeds(catalog))
        {
            Visit(seed);
        }

        var starts = new List<int>();
        var tos = new List<int>();
        var muts = new List<Mutation>();
        var successors = new List<(Mutation, UInt128)>();
        while (queue.Count > 0)
        {
            var s = queue.Dequeue();
            starts.Add(tos.Count);
            successors.Clear();
            Expand(catalog, s, successors);
            foreach (var (m, next) in successors)
            {
                Visit(next);
                tos.Add(_index[next]);
                muts.Add(m);
            }
        }

        starts.Add(tos.Count);
        _states = [.. states];
        _edgeStart = [.. starts];
        _edgeTo = [.. tos];
        _edgeMutation = [.. muts];

        var vertices = ImmutableArray.CreateBuilder<GraphVertex>(_states.Length);
        for (var v = 0; v < _states.Length; v++)
        {
            vertices.Add(new GraphVertex(v, [.. layout.Values(_states[v])], layout.Format(_states[v])));
        }

        Vertices = vertices.MoveToImmutable();
        var edges = ImmutableArray.CreateBuilder<GraphEdge>(_edgeTo.Length);
        for (var v = 0; v < _states.Length; v++)
        {
            for (var e = _edgeStart[v]; e < _edgeStart[v + 1]; e++)
            {
                edges.Add(new GraphEdge(e, v, _edgeTo[e], _edgeMutation[e]));
            }
        }

        Edges = edges.MoveToImmutable();
    }

    /// <summary>Validates the module set and builds its graph.</summary>
    public static MutationGraph Build(StateSchema schema, IEnumerable<ModuleDeclaration> modules) => new(MutationCatalog.Create(schema, modules));

    public MutationCatalog Catalog { get; }

    public ImmutableArray<GraphVertex> Vertices { get; }

    public ImmutableArray<GraphEdge> Edges { get; }

    internal StateLayout Layout => Catalog.Layout;

    /// <summary>The vertex of a packed state, or -1 when the state is outside the graph.</summary>
    internal int VertexOf(UInt128 state) => _index.TryGetValue(state, out var v) ? v : -1;

    internal UInt128 StateOf(int vertex) => _states[vertex];

    internal ReadOnlySpan<int> EdgeTargets(int vertex) => _edgeTo.AsSpan(_edgeStart[vertex], _edgeStart[vertex + 1] - _edgeStart[vertex]);

    internal ReadOnlySpan<Mutation> EdgeMutations(int vertex) => _edgeMutation.AsSpan(_edgeStart[vertex], _edgeStart[vertex + 1] - _edgeStart[vertex]);

    /// <summary>
    /// The successors of any state (in the graph or not), ignoring constraints: every mutation, in id order,
    /// whose from-values and mutated-URL requirements hold, leading to the state with its to-values set and
    /// the values it makes unknowable cleared; requirements must still hold afterwards.
    /// </summary>
    internal static void Expand(MutationCatalog catalog, UInt128 state, List<(Mutation, UInt128)> into)
    {
        var layout = catalog.Layout;
        foreach (var m in catalog.Mutations)
        {
            if (!m.AppliesTo(state))
            {
                continue;
            }

            var next = layout.Normalize((state & ~m.PostMask) | m.PostValues);
            if (next == state || (next & m.KeepMask) != m.KeepValues)
            {
                continue;
            }

            into.Add((m, next));
        }
    }

    /// <summary>One state per single value a node can be found in, with everything else unknown.</summary>
    private static IEnumerable<UInt128> Seeds(MutationCatalog catalog)
    {
        var layout = catalog.Layout;
        var found = new SortedSet<(int Url, int Dense)>();
        foreach (var module in catalog.Modules)
        {
            foreach (var url in catalog.DiscoverableUrls(module.Name))
            {
                var i = layout.IndexOf(url);
                if (i < 0)
                {
                    continue;
                }

                foreach (var value in catalog.DiscoverableValues(module.Name, url))
                {
                    found.Add((i, layout.Dense(i, value)));
                }
            }
        }

        foreach (var (i, d) in found)
        {
            if (d != 0)
            {
                yield return layout.Normalize(layout.With(0, i, d));
            }
        }
    }
}
