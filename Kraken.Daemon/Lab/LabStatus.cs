// "kraken lab status": the recorded topology, whether each recorded process is alive, and each node's Cfg and
// Dsc states as the root daemon reports them, in one table.
using System.Globalization;
using System.Runtime.Versioning;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

[SupportedOSPlatform("linux")]
internal sealed class LabStatus(LabPaths paths, TextWriter output)
{
    /// <summary>0 when a lab is recorded (whatever its state), 1 when none is.</summary>
    public async Task<int> RunAsync(CancellationToken ct)
    {
        var record = LabRecord.Load(paths.Record) ?? throw new CliException($"no lab is recorded in {paths.Directory} (no {paths.Record})");
        var plan = LabPlan.Create(record.Directory, record.Tier1, record.Leaves, record.Backup);
        var namespaces = string.Join(", ", record.Namespaces.Select(ns => $"{ns} ({(LabSystem.NamespaceExists(ns) ? "present" : "missing")})"));
        await output.WriteLineAsync($"lab {record.Name} in {record.Directory}: {plan.Describe()}, accelerator {record.Accel ?? "-"}, image {record.Image ?? "-"}");
        await output.WriteLineAsync($"started {record.Started ?? "-"}{(record.Complete ? string.Empty : " (lab up has not finished)")}; namespaces {(namespaces.Length > 0 ? namespaces : "none")}");

        Dictionary<string, LabNodeState>? cfg = null, dsc = null;
        var lost = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string api;
        try
        {
            using var client = new ApiClient(new Uri(plan.ApiUrl), null, TimeSpan.FromSeconds(5));
            cfg = LabNodeState.Parse(await client.GetAsync("/api/v1/cfg/nodes", ct));
            dsc = LabNodeState.Parse(await client.GetAsync("/api/v1/dsc/nodes", ct));
            using var tree = System.Text.Json.JsonDocument.Parse(await client.GetAsync("/api/v1/tree", ct));
            if (tree.RootElement.TryGetProperty("lost", out var l))
            {
                lost.UnionWith(l.EnumerateArray().Select(e => e.GetProperty("id").GetString()!));
            }

            api = "answering";
        }
        catch (CliException e)
        {
            api = e.Message;
        }

        await output.WriteLineAsync($"root API {plan.ApiUrl}: {api}");
        var rows = new List<string[]>();
        foreach (var node in plan.Nodes)
        {
            var c = cfg?.GetValueOrDefault(node.Id);
            var d = dsc?.GetValueOrDefault(node.Id);
            string process;
            if (node.Tier == LabTier.Root)
            {
                process = $"daemon {Process(record, "root-daemon", node.Name)}";
            }
            else
            {
                var vm = record.Vms.FirstOrDefault(v => v.Name == node.Name);
                var pid = vm is null ? (int?)null : LabDown.VmPids(vm).Cast<int?>().FirstOrDefault(p => LabSystem.StartTimeOf(p!.Value) is { } s && LabSystem.IsAlive(p.Value, s));
                process = $"bmc {Process(record, "bmc", node.Name)}, vm {(pid is { } p ? p.ToString(CultureInfo.InvariantCulture) : "off")}";
            }

            // Attached: the parent the node's daemon is joined to (its backup after a fail-over); lost: the root no
            // longer hears of it (its parent died and no backup took it over), so its states are the last known.
            var attached = d?.Attached is { } a ? plan.Nodes.FirstOrDefault(n => n.Id.Equals(a, StringComparison.OrdinalIgnoreCase))?.Name ?? a : "-";
            rows.Add([
                node.Name, Tier(node), plan.ParentOf(node)?.Name ?? "-", attached, node.Uplink.Address, node.Bmc ?? "-", process,
                $"{c?.Phys ?? "-"}/{d?.Phys ?? "-"}", $"{c?.Run ?? "-"}/{d?.Run ?? "-"}", $"{c?.Pxe ?? "-"}/{d?.Pxe ?? "-"}",
                lost.Contains(node.Id) ? "LOST" : "",
            ]);
        }

        await Table.WriteAsync(output, ["NODE", "TIER", "PARENT", "ATTACHED", "ADDRESS", "BMC", "PROCESSES", "PHYS CFG/DSC", "RUN CFG/DSC", "PXE CFG/DSC", ""], rows);
        if (lost.Count > 0)
        {
            await output.WriteLineAsync($"lost: {lost.Count} node(s) the root no longer hears of; their states above are the last known");
        }

        return 0;
    }

    private static string Tier(LabNode node) => node.Tier switch
    {
        LabTier.Root => "root",
        LabTier.Tier1 => "tier-1",
        _ => "leaf",
    };

    /// <summary>"1234" when the recorded process runs, "1234 dead" when not, "-" when none was recorded.</summary>
    private static string Process(LabRecord record, string role, string name) =>
        record.Processes.FirstOrDefault(p => p.Role == role && p.Name == name) is { } p
            ? LabDown.Running(p) is [var (pid, _), ..] ? pid.ToString(CultureInfo.InvariantCulture) : p.Pid.ToString(CultureInfo.InvariantCulture) + " dead"
            : "-";
}
