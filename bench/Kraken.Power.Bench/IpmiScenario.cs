// N ipmi_sim BMCs on loopback, powered on, read and powered off in bulk through the IPMI driver.
using System.Diagnostics;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Modules.Tests.Interop;
using Kraken.Net.Execution;
using Kraken.Tree.State;

namespace Kraken.Power.Bench;

internal static class IpmiScenario
{
    public static async Task RunAsync(int bmcs)
    {
        var started = Stopwatch.StartNew();
        var sims = new List<IpmiSimBmc>();
        try
        {
            for (var i = 0; i < bmcs; i++)
            {
                sims.Add(new IpmiSimBmc());
            }

            Console.WriteLine($"{bmcs} ipmi_sim BMCs started in {started.Elapsed.TotalSeconds:0.0} s");
            var credentials = new InMemoryCredentialProvider().Set("bmc", IpmiSimBmc.Password);
            using var driver = new IpmiPowerDriver(credentials);
            await using var executor = new SerialExecutor();
            var module = new PowerModule([driver], executor, TimeProvider.System, new PowerOptions
            {
                DefaultDriverConcurrency = 32,
                BmcConcurrency = 1,
                CallTimeout = TimeSpan.FromSeconds(10),
                PollInterval = TimeSpan.Zero,
            });
            var targets = sims.Select((s, i) => new PowerTarget(NodeId.FromName($"n{i}"), "ipmi", "127.0.0.1")
            {
                Nodename = $"n{i}",
                Port = s.Port,
                User = IpmiSimBmc.User,
                Credential = "bmc",
            }).ToArray();

            foreach (var action in new[] { PowerAction.On, PowerAction.Status, PowerAction.Off, PowerAction.Status })
            {
                var wall = Stopwatch.StartNew();
                var summary = await module.RunBulkAsync(targets, action);
                wall.Stop();
                var durations = summary.Results.Select(r => r.Duration.TotalMilliseconds).Order().ToArray();
                var load = await executor.InvokeAsync(() => module.Load().Single());
                Console.WriteLine($"  {action,-6} {summary.Ok} ok, {summary.Failed} failed, {summary.TimedOut} timed out in {wall.Elapsed.TotalMilliseconds:0} ms; per node p50 {SimScenario.Percentile(durations, 0.5):0} ms, p99 {SimScenario.Percentile(durations, 0.99):0} ms; peak in flight {load.Peak} (limit {load.Limit}); sessions opened so far {driver.SessionsOpened}");
                foreach (var (reason, count) in summary.FailureReasons())
                {
                    Console.WriteLine($"    {count} x {reason}");
                }
            }

            // ipmitool's view of a sample of the BMCs after the run.
            var sample = sims.Where((_, i) => i % Math.Max(1, bmcs / 5) == 0).Select(s => s.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status")).Distinct();
            Console.WriteLine($"  ipmitool on a sample after power off: {string.Join("; ", sample)}");
        }
        finally
        {
            foreach (var sim in sims)
            {
                sim.Dispose();
            }
        }
    }
}
