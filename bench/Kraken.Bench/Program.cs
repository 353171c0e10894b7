// Entry point: "scenario ..." runs the scenario benchmarks; anything else goes to BenchmarkDotNet's switcher.
using BenchmarkDotNet.Running;
using Kraken.Bench.Reconcile;

if (args.Length > 0 && args[0] == "scenario")
{
    return ReconcileScenario.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(ReconcileScenario).Assembly).Run(args);
return 0;
