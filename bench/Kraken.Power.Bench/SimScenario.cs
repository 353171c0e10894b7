// Bulk power-on of N simulated nodes through the power module, and a cold power-on of N nodes driven by the
// reconcile engine, all on the virtual clock: summary, virtual and wall time, concurrency, memory.
using System.Diagnostics;
using Kraken.Modules.Power;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Power.Bench;

internal static class SimScenario
{
    public static void Run(int nodes)
    {
        Bulk(nodes);
        Engine(nodes);
    }

    private static (VirtualTimeProvider Time, ManualExecutor Executor, StateStore Store, SimPowerDriver Sim, PowerModule Module, ReconcileEngine Engine, NodeId[] Ids) Build(int nodes, PowerOptions power, bool cfgOn)
    {
        var work = new WorkQueue();
        var time = new VirtualTimeProvider(work);
        var executor = new ManualExecutor(work);
        var store = new StateStore(StateSchema.Default);
        var self = NodeId.FromName("parent");
        var sim = new SimPowerDriver(time, new SimPowerOptions
        {
            OnDelay = SimDelay.Uniform(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)),
            FailureRate = 0.01,
            HangRate = 0.01,
            Seed = 42,
        });
        var module = new PowerModule([sim], executor, time, power);
        var engine = new ReconcileEngine(self, store, [module], executor, time, new ReconcileOptions { BackoffBase = TimeSpan.FromSeconds(2) });
        engine.Start();
        var ids = new NodeId[nodes];
        store.Batch(s =>
        {
            for (var i = 0; i < nodes; i++)
            {
                var id = ids[i] = NodeId.FromName($"n{i}");
                var cfg = NodeRecord.Empty(id, s.Schema).Edit();
                cfg.Set(s.Schema.ParentId, StateValue.FromNodeId(self));
                cfg.Set("/Extensions/Power/Driver", "sim");

                // 8 nodes per chassis BMC, as in a blade enclosure.
                cfg.Set("/Extensions/Power/Address", $"bmc{i / 8}");
                if (cfgOn)
                {
                    cfg.Set("/PhysState", "POWER_ON");
                }

                s.Create(cfg.Build(), NodeRecord.Empty(id, s.Schema).Edit().Set("/PhysState", "POWER_OFF").Build());
            }
        });
        time.RunUntilIdle();
        return (time, executor, store, sim, module, engine, ids);
    }

    private static void Bulk(int nodes)
    {
        var power = new PowerOptions { DefaultDriverConcurrency = 64, BmcConcurrency = 1, CallTimeout = TimeSpan.FromSeconds(10), Retries = 1, RetryDelay = TimeSpan.FromSeconds(1), PollInterval = TimeSpan.Zero };
        var (time, _, _, sim, module, engine, ids) = Build(nodes, power, cfgOn: false);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var wall = Stopwatch.StartNew();
        var task = module.RunBulkAsync(ids, PowerAction.On);
        time.RunUntil(() => task.IsCompleted, TimeSpan.FromDays(1));
        wall.Stop();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        var summary = task.GetAwaiter().GetResult();
        var load = module.Load().Single();
        var durations = summary.Results.Select(r => r.Duration.TotalSeconds).Order().ToArray();
        Console.WriteLine($"bulk power on, {nodes} simulated nodes behind {(nodes + 7) / 8} BMCs (on delay 1-5 s, 1 % refused, 1 % silent; 64 per driver, 1 per BMC, 10 s timeout, 1 retry)");
        Console.WriteLine($"  summary: {summary.Ok} ok, {summary.Failed} failed, {summary.TimedOut} timed out; {sim.Calls} calls");
        foreach (var (reason, count) in summary.FailureReasons())
        {
            Console.WriteLine($"    {count} x {reason}");
        }

        Console.WriteLine($"  virtual time {summary.Elapsed.TotalSeconds:0.0} s (per node p50 {Percentile(durations, 0.5):0.0} s, p99 {Percentile(durations, 0.99):0.0} s); peak in flight {load.Peak} (limit {load.Limit})");
        Console.WriteLine($"  wall {wall.Elapsed.TotalMilliseconds:0} ms, {allocated / (double)nodes:0} B allocated per node");
        engine.Dispose();
    }

    private static void Engine(int nodes)
    {
        // A step's timeout runs from dispatch, so time spent queued behind the driver and BMC limits counts:
        // once with the default 60 s, once with a timeout that covers the whole queue.
        Engine(nodes, TimeSpan.FromSeconds(60));
        Engine(nodes, TimeSpan.FromHours(2));
    }

    private static void Engine(int nodes, TimeSpan stepTimeout)
    {
        var power = new PowerOptions { DefaultDriverConcurrency = 64, CallTimeout = TimeSpan.FromSeconds(10), Retries = 1, PollInterval = TimeSpan.Zero, StepTimeout = stepTimeout, HangStepTimeout = stepTimeout };
        var wall = Stopwatch.StartNew();
        var (time, _, store, sim, _, engine, ids) = Build(nodes, power, cfgOn: true);
        // Counting over every node is O(N): check once per simulated second, not after every event.
        var on = 0;
        while (time.Elapsed < TimeSpan.FromHours(4))
        {
            time.Advance(TimeSpan.FromSeconds(1));
            on = ids.Count(id => store.GetRequired(StateView.Dsc, id).PhysState == Kraken.Tree.State.Proto.PhysState.PowerOn);
            if (on == nodes)
            {
                break;
            }
        }

        wall.Stop();
        var counters = engine.Counters;
        Console.WriteLine($"engine cold power-on (Cfg POWER_ON, Dsc POWER_OFF), {nodes} simulated nodes, same driver settings, step timeout {stepTimeout.TotalSeconds:0} s");
        Console.WriteLine($"  {on} of {nodes} POWER_ON after {time.Elapsed.TotalSeconds:0} s virtual (checked each second); {counters.Dispatched} steps dispatched, {counters.Failed} failed; {sim.Calls} driver calls");
        Console.WriteLine($"  wall {wall.Elapsed.TotalMilliseconds:0} ms");
        engine.Dispose();
    }

    internal static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
