// The bulk scenario: 100,000 nodes go from all-off to Cfg POWER_ON + SYNC; time and allocations to plan and dispatch.
using System.Diagnostics;
using System.Runtime;
using System.Globalization;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Tests.Reconcile;

namespace Kraken.Bench.Reconcile;

public static class ReconcileScenario
{
    /// <summary><c>scenario [nodes] [--converge]</c>: prints the figures of docs/performance.md.</summary>
    public static int Run(string[] args)
    {
        var nodes = args.Length > 0 && int.TryParse(args[0], CultureInfo.InvariantCulture, out var n) ? n : 100_000;
        var converge = args.Contains("--converge");
        Console.WriteLine($"Reconcile bulk scenario: {nodes:N0} nodes, Cfg PhysState=POWER_ON RunState=SYNC, Dsc PhysState=POWER_OFF");
        Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} cores, {(GCSettings.IsServerGC ? "server" : "workstation")} GC");
        PlanAll(nodes);
        Dispatch(nodes, concurrency: nodes);
        Dispatch(nodes, concurrency: 1024);
        if (converge)
        {
            Converge(nodes);
        }

        return 0;
    }

    private static StateStore CreateStore(int nodes, NodeId self, bool withGoal)
    {
        var schema = StateSchema.Default;
        var store = new StateStore(schema);
        store.Batch(s =>
        {
            for (var i = 0; i < nodes; i++)
            {
                var id = NodeId.FromName("node" + i.ToString(CultureInfo.InvariantCulture));
                var cfg = NodeRecord.Empty(id, schema).Edit().Set(schema.ParentId, StateValue.FromNodeId(self));
                if (withGoal)
                {
                    cfg.Set(schema.PhysState, StateValue.FromEnum(PhysState.PowerOn)).Set(schema.RunState, StateValue.FromEnum(RunState.Sync));
                }

                s.Create(cfg.Build(), NodeRecord.Empty(id, schema).With(schema.PhysState, StateValue.FromEnum(PhysState.PowerOff)));
            }
        });
        return store;
    }

    /// <summary>The planner alone: every node's key from its records, then its plan (one search, the rest cache hits).</summary>
    private static void PlanAll(int nodes)
    {
        var store = CreateStore(nodes, NodeId.FromName("parent"), withGoal: true);
        var planner = new Planner(MutationGraph.Build(store.Schema, ModuleSets.Realistic()));
        var ids = store.Ids.ToArray();
        for (var round = 0; round < 2; round++)
        {
            var planned = 0;
            var (elapsed, allocated) = Measure(() =>
            {
                foreach (var id in ids)
                {
                    store.TryGet(id, out var cfg, out var dsc);
                    if (planner.Plan(planner.KeyOf(cfg, dsc), out _).Status == PlanStatus.Path)
                    {
                        planned++;
                    }
                }
            });
            Report($"plan all (round {round + 1})", nodes, elapsed, allocated, $"{planned:N0} paths, {planner.Searches} search(es), {planner.CacheHits:N0} cache hits");
        }
    }

    /// <summary>The engine: a bulk Cfg change in one transaction, processed in one pass that plans every node and dispatches its first step.</summary>
    private static void Dispatch(int nodes, int concurrency)
    {
        var self = NodeId.FromName("parent");
        var store = CreateStore(nodes, self, withGoal: false);
        var work = new WorkQueue();
        var time = new VirtualTimeProvider(work);
        var modules = ModuleSets.Realistic().Select(d => new CountingModule(d)).ToArray();
        var options = new ReconcileOptions { DefaultModuleConcurrency = concurrency };
        using var engine = new ReconcileEngine(self, store, modules, new ManualExecutor(work), time, options);
        engine.Start();
        time.RunUntilIdle();

        var before = engine.Counters;
        var (writeTime, writeAllocated) = Measure(() => store.Batch(s =>
        {
            foreach (var id in store.Ids)
            {
                s.Update(StateView.Cfg, id, [new(s.Schema.PhysState, StateValue.FromEnum(PhysState.PowerOn)), new(s.Schema.RunState, StateValue.FromEnum(RunState.Sync))]);
            }
        }));
        Report("  store: bulk Cfg change (one transaction)", nodes, writeTime, writeAllocated, "200,000 changes observed");
        var passes = 0;
        var (elapsed, allocated) = Measure(() => passes = work.RunPending());
        var c = engine.Counters;
        Report($"  engine: plan all + dispatch first edge (concurrency {concurrency:N0})", nodes, elapsed, allocated,
            $"{passes} pass(es), {c.PlansComputed - before.PlansComputed} search(es), {c.PlanCacheHits - before.PlanCacheHits:N0} cache hits, "
            + $"{c.Dispatched - before.Dispatched:N0} dispatched, {modules[0].Received:N0} received by power");
    }

    /// <summary>Every node all the way to SYNC on the virtual clock, modules confirming each step after 1 s of virtual time.</summary>
    private static void Converge(int nodes)
    {
        var self = NodeId.FromName("parent");
        var store = CreateStore(nodes, self, withGoal: true);
        var work = new WorkQueue();
        var time = new VirtualTimeProvider(work);
        var modules = ModuleSets.Realistic().Select(d => new FakeModule(d, time, [])).ToArray();
        using var engine = new ReconcileEngine(self, store, modules, new ManualExecutor(work), time, new ReconcileOptions { DefaultModuleConcurrency = nodes });
        var synced = 0;
        var (elapsed, allocated) = Measure(() =>
        {
            engine.Start();
            time.RunUntil(() => engine.Counters.Confirmed == 5L * nodes, TimeSpan.FromHours(1));
            synced = store.Snapshot(StateView.Dsc).Count(r => r.RunState == RunState.Sync);
        });
        Report("converge all to SYNC on the virtual clock", nodes, elapsed, allocated, $"{synced:N0} in SYNC after {time.Elapsed.TotalSeconds:N0} s virtual, {engine.Counters.Dispatched:N0} steps");
    }

    private static (TimeSpan Elapsed, long Allocated) Measure(Action action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        action();
        sw.Stop();
        return (sw.Elapsed, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void Report(string what, int nodes, TimeSpan elapsed, long allocated, string detail) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what,-58} {elapsed.TotalMilliseconds,9:N1} ms  {allocated / 1048576.0,8:N1} MiB  {allocated / (double)nodes,7:N0} B/node  {detail}"));

    /// <summary>A module that only counts what it receives, so the figures are the engine's own.</summary>
    private sealed class CountingModule(ModuleDeclaration declaration) : IReconcileModule
    {
        public ModuleDeclaration Declaration { get; } = declaration;

        public int Received { get; private set; }

        public void Attach(IReconcileHost host)
        {
        }

        public void OnMutationRequest(MutationRequest request) => Received++;
    }
}
