// Entry point: BenchmarkDotNet over the metric benchmarks (e.g. --filter '*DhcpAnswer*').
using BenchmarkDotNet.Running;
using Kraken.Metrics.Bench;

BenchmarkSwitcher.FromAssembly(typeof(DhcpAnswerBenchmarks).Assembly).Run(args);
