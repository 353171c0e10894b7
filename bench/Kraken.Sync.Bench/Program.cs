// Entry point: "--scenario [tier1] [leaves per tier-1]" prints the bandwidth comparison, "--example" the worked
// example frames of docs/protocol.md; anything else runs BenchmarkDotNet.
using System.Globalization;
using BenchmarkDotNet.Running;
using Kraken.Sync.Bench;

if (args.Length > 0 && args[0] == "--scenario")
{
    var tier1 = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
    var leaves = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 30;
    Scenario.Run(tier1, leaves);
    return;
}

if (args.Length > 0 && args[0] == "--example")
{
    Example.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(HelloBenchmarks).Assembly).Run(args);
