// Entry point of the kraken-sim executable.
using System.Globalization;
using System.Reflection;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;

namespace Kraken.Sim;

internal static class Program
{
    private const string EmbeddedCluster = "Kraken.Sim.cluster-3tier.json";

    private static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? path;
        switch (args)
        {
            case []:
                path = null;
                break;
            case ["show", var file]:
                path = file;
                break;
            default:
                stderr.WriteLine("usage: kraken-sim [show STATE-FILE]");
                return 2;
        }

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
