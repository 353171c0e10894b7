// Entry point of the kraken-sim executable.
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using Kraken.Modules;
using Kraken.Sim.Cli;
using Kraken.Sim.Cluster;
using Kraken.Sim.Reports;
using Kraken.Sim.Scenarios;
using Kraken.Sim.Sweeps;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Kraken.Tree.Sync;

namespace Kraken.Sim;

internal static class Program
{
    private const string EmbeddedCluster = "Kraken.Sim.cluster-3tier.json";

    private static int Main(string[] args) => Run(args, Console.Out, Console.Error, !Console.IsErrorRedirected);

    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool liveProgress = false)
    {
        switch (args)
        {
            case []:
                return Simulate(SimCommand.Default, stdout, stderr, liveProgress);
            case ["show"]:
                return Show(null, stdout, stderr);
            case ["show", var file]:
                return Show(file, stdout, stderr);
            case ["graph"]:
                stdout.WriteLine(Graph().ToJson());
                return 0;
            case ["graph", "--dot"]:
                stdout.Write(Graph().ToDot());
                return 0;
            case ["help" or "--help" or "-h"]:
                stdout.WriteLine(SimCommand.Usage);
                return 0;
        }

        SimCommand command;
        try
        {
            command = SimCommand.Parse(args);
        }
        catch (ArgumentException ex)
        {
            stderr.WriteLine($"kraken-sim: {ex.Message}");
            stderr.WriteLine(SimCommand.Usage);
            return 2;
        }

        return Simulate(command, stdout, stderr, liveProgress);
    }

    private static int Simulate(SimCommand command, TextWriter stdout, TextWriter stderr, bool liveProgress)
    {
        IProgressSink progress = command.Quiet ? NoProgress.Instance : new ConsoleProgress(stderr, liveProgress);
        try
        {
            if (command.ExportState is { } path)
            {
                var topology = SimCluster.CreateTopology(command.Settings);
                StateFileWriter.WriteFile(path, SimCluster.CfgRecords(topology));
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {topology.Count + 1:N0} nodes to {path}"));
            }

            return command.Verb == "sweep"
                ? RunSweep(command, stdout, progress)
                : RunScenario(command, stdout, progress);
        }
        catch (ArgumentException ex)
        {
            stderr.WriteLine($"kraken-sim: {ex.Message}");
            return 2;
        }
        catch (IOException ex)
        {
            stderr.WriteLine($"kraken-sim: {ex.Message}");
            return 1;
        }
        catch (UnauthorizedAccessException ex)
        {
            stderr.WriteLine($"kraken-sim: {ex.Message}");
            return 1;
        }
    }

    private static int RunScenario(SimCommand command, TextWriter stdout, IProgressSink progress)
    {
        var results = new List<SimResult> { RunOne(command.Settings, command.Scenario, progress) };
        if (command.Compare)
        {
            var other = command.Settings.Profile == SyncProfile.Kraken ? SyncProfile.KrakenGo : SyncProfile.Kraken;
            var settings = command.Settings with { Profile = other, Hello = null, Dead = null };

            // The first cluster is garbage now; give its memory back so the second run's peak is its own.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            results.Add(RunOne(settings, command.Scenario, progress));
        }

        for (var i = 0; i < results.Count; i++)
        {
            if (i > 0)
            {
                stdout.WriteLine();
            }

            SummaryTable.Write(stdout, results[i]);
        }

        if (results.Count == 2)
        {
            stdout.WriteLine();
            ComparisonTable.Write(stdout, results[0], results[1]);
        }

        if (command.Json is { } json)
        {
            JsonReport.WriteRuns(json, results);
        }

        if (command.Plot is { } plot)
        {
            SvgPlot.WriteConvergence(plot, results);
        }

        return results.All(r => r.Converged) ? 0 : 3;
    }

    /// <summary>One run in its own frame, so nothing of its cluster stays reachable once it has returned.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static SimResult RunOne(SimSettings settings, ScenarioOptions scenario, IProgressSink progress) =>
        new ScenarioRunner(settings, scenario, progress).Run();

    private static int RunSweep(SimCommand command, TextWriter stdout, IProgressSink progress)
    {
        var sweep = new SweepRunner(command.Settings, progress).Run(command.SweepHello, command.SweepDeadMult, command.SweepFanout);
        SweepTable.Write(stdout, sweep);
        if (command.Json is { } json)
        {
            JsonReport.WriteSweep(json, sweep);
        }

        if (command.Plot is { } plot)
        {
            SvgPlot.WriteSweep(plot, sweep);
        }

        return 0;
    }

    /// <summary>
    /// The mutation graph every simulated parent runs: the daemon's module set (power, PXE, join) with its defaults,
    /// in the JSON of the daemon's <c>GET /api/v1/graph</c>.
    /// </summary>
    internal static MutationGraph Graph() => ModuleSet.Graph(SimModules.Options(new SimSettings()));

    private static int Show(string? path, TextWriter stdout, TextWriter stderr)
    {
        var store = new StateStore();
        try
        {
            var result = path is null ? ImportEmbedded(store) : StateFileImporter.ImportFile(store, path);
            foreach (var w in result.Warnings)
            {
                stderr.WriteLine($"warning: {w}");
            }
        }
        catch (StateFileException ex)
        {
            stderr.WriteLine(ex.Message);
            return 1;
        }

        PrintTree(stdout, store, path ?? "embedded example cluster (examples/cluster-3tier.json)");
        return 0;
    }

    private static ImportResult ImportEmbedded(StateStore store)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(EmbeddedCluster)
            ?? throw new InvalidOperationException($"resource {EmbeddedCluster} is missing");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return StateFileImporter.Import(store, memory.ToArray());
    }

    private static void PrintTree(TextWriter stdout, StateStore store, string source)
    {
        var nodes = store.Snapshot(StateView.Cfg);
        var children = nodes.Where(n => n.ParentId is not null).ToLookup(n => n.ParentId!.Value);
        var roots = nodes.Where(n => n.ParentId is null || !store.Contains(n.ParentId.Value)).ToList();
        stdout.WriteLine($"Cluster from {source}: {nodes.Length} nodes, {roots.Count} root(s)");
        stdout.WriteLine();
        foreach (var root in roots)
        {
            Print(root, 0);
        }

        void Print(NodeRecord node, int depth)
        {
            var ip = node.Get("/Extensions/IPv4/Interfaces/kraken/Ip");
            var power = node.Get("/Extensions/Power/Driver");
            var backups = node.BackupParents.IsEmpty
                ? string.Empty
                : " backup " + string.Join(',', node.BackupParents.Select(b => store.Get(StateView.Cfg, b)?.Nodename ?? b.ToString()));
            var line = string.Create(CultureInfo.InvariantCulture,
                $"{new string(' ', depth * 2)}{node.Nodename ?? node.Id.ToString(),-8} {node.Id}  {ip,-13} run={node.Get("/RunState"),-5} power={(power.IsSet ? power : "-"),-6}{backups}");
            stdout.WriteLine(line.TrimEnd());
            foreach (var child in children[node.Id].OrderBy(c => c.Nodename, StringComparer.Ordinal))
            {
                Print(child, depth + 1);
            }
        }
    }
}
