// Micro-benchmarks of the planner: an uncached search, a cached lookup, a node's plan key, the graph build.
using BenchmarkDotNet.Attributes;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.Tests.Reconcile;

namespace Kraken.Bench.Reconcile;

[MemoryDiagnoser]
public class PlannerBenchmarks
{
    private Planner _planner = null!;
    private NodeRecord _cfg = null!;
    private NodeRecord _coldDsc = null!;
    private NodeRecord _hangDsc = null!;
    private PlanKey _coldKey;
    private PlanKey _hangKey;

    [GlobalSetup]
    public void Setup()
    {
        var schema = StateSchema.Default;
        _planner = new Planner(MutationGraph.Build(schema, ModuleSets.Realistic()));
        var id = NodeId.FromName("bench");
        _cfg = NodeRecord.Empty(id, schema).With("/PhysState", "POWER_ON").With("/RunState", "SYNC");
        _coldDsc = NodeRecord.Empty(id, schema).With("/PhysState", "POWER_OFF");
        _hangDsc = NodeRecord.Empty(id, schema).With("/PhysState", "PHYS_HANG").With("/RunState", "INIT");
        _coldKey = _planner.KeyOf(_cfg, _coldDsc);
        _hangKey = _planner.KeyOf(_cfg, _hangDsc);
        _planner.Plan(_coldKey, out _);
    }

    /// <summary>Dijkstra from all-off to POWER_ON + SYNC (5 steps), without the cache.</summary>
    [Benchmark]
    public MutationPlan SearchFromOff() => _planner.Search(_coldKey);

    /// <summary>Dijkstra from a hung node (power cycle, 6 steps), without the cache.</summary>
    [Benchmark]
    public MutationPlan SearchFromHang() => _planner.Search(_hangKey);

    /// <summary>What every node after the first pays: a cache hit.</summary>
    [Benchmark(Baseline = true)]
    public MutationPlan CachedPlan() => _planner.Plan(_coldKey, out _);

    /// <summary>A node's plan key from its records: Dsc projection, knowability, goal and constraint bits.</summary>
    [Benchmark]
    public UInt128 NodeKey()
    {
        var key = _planner.KeyOf(_cfg, _coldDsc);
        return key.Start ^ key.GoalValues ^ key.Constraints;
    }

    /// <summary>Registration and graph construction for the realistic module set.</summary>
    [Benchmark]
    public MutationGraph BuildGraph() => MutationGraph.Build(StateSchema.Default, ModuleSets.Realistic());
}
