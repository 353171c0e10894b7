// Entry point: "--scenario sim [nodes]" runs bulk power-on and a cold engine power-on on the virtual clock;
// "--scenario ipmi [bmcs]" powers ipmi_sim BMCs on and off through the IPMI driver; anything else runs BenchmarkDotNet.
using System.Globalization;
using BenchmarkDotNet.Running;
using Kraken.Power.Bench;

if (args.Length > 1 && args[0] == "--scenario")
{
    var count = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 200;
    switch (args[1])
    {
        case "sim":
            SimScenario.Run(count);
            return;
        case "ipmi":
            await IpmiScenario.RunAsync(count);
            return;
    }

    Console.Error.WriteLine($"unknown scenario '{args[1]}': use sim or ipmi");
    Environment.Exit(2);
}

BenchmarkSwitcher.FromAssembly(typeof(PowerBenchmarks).Assembly).Run(args);
