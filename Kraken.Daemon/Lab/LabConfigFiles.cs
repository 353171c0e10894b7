// The two files the root daemon starts from: the cluster's state file (DIR/cluster.json) and its own
// configuration (DIR/root/kraken.json).
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kraken.Daemon.Lab;

internal static class LabConfigFiles
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    /// <summary>
    /// The state file (docs/state-file.md): every node below the root wants PhysState POWER_ON and RunState SYNC;
    /// tier-1 nodes carry a <c>pxe</c> interface and run the pxe and power services for their leaves.
    /// </summary>
    public static string ClusterJson(LabPlan plan)
    {
        var nodes = new JsonArray();
        foreach (var n in plan.Nodes)
        {
            var interfaces = new JsonObject { [n.Uplink.Name] = Interface(n.Uplink) };
            if (n.Downlink is { } down)
            {
                interfaces[down.Name] = Interface(down);
            }

            var extensions = new JsonObject
            {
                ["IPv4"] = new JsonObject { ["interfaces"] = interfaces, ["hostname"] = n.Name },
            };
            if (n.Bmc is { } bmc)
            {
                extensions["Power"] = new JsonObject
                {
                    ["driver"] = "ipmi",
                    ["address"] = bmc,
                    ["port"] = LabPlan.BmcPort,
                    ["user"] = LabPlan.BmcUser,
                    ["credential"] = LabPlan.BmcCredential,
                };
            }

            var node = new JsonObject
            {
                ["id"] = n.Id,
                ["nodename"] = n.Name,
                ["runState"] = "SYNC",
                ["physState"] = "POWER_ON",
                ["arch"] = "amd64",
            };
            if (n.ParentId is { } parent)
            {
                node["parentId"] = parent;
            }

            if (n.BackupParents.Count > 0)
            {
                node["backupParents"] = new JsonArray([.. n.BackupParents.Select(b => (JsonNode)JsonValue.Create(b))]);
            }

            node["extensions"] = extensions;
            if (n.Tier == LabTier.Tier1)
            {
                node["services"] = new JsonObject
                {
                    ["pxe"] = new JsonObject { ["state"] = "RUN" },
                    ["power"] = new JsonObject { ["state"] = "RUN" },
                };
            }

            nodes.Add((JsonNode)node);
        }

        return new JsonObject { ["format"] = "kraken-state/1", ["nodes"] = nodes }.ToJsonString(s_indented) + "\n";
    }

    /// <summary>
    /// The root daemon's configuration: API on the management address, sync and PXE on the root segment, power
    /// through ipmi with the lab's credential directory. KernelArgs is left to the PXE module's default.
    /// </summary>
    public static string RootConfigJson(LabPlan plan, LabPaths paths, string imageDirectory)
    {
        var config = new JsonObject
        {
            ["NodeId"] = plan.Root.Id,
            ["Role"] = "root",
            ["Api"] = new JsonObject { ["Url"] = plan.ApiUrl, ["TokenFile"] = paths.ApiToken },
            ["Sync"] = new JsonObject { ["Bind"] = $"{LabPlan.RootAddress}:{LabPlan.SyncPort}", ["JoinSecretFile"] = paths.JoinSecret },
            ["Store"] = new JsonObject { ["Path"] = paths.RootDatabase, ["Import"] = paths.Cluster },
            ["Modules"] = new JsonObject
            {
                ["Pxe"] = new JsonObject
                {
                    ["Interface"] = plan.RootSegmentLink,
                    ["ServerAddress"] = LabPlan.RootAddress,
                    ["BootRoot"] = imageDirectory,
                    ["HttpPort"] = LabPlan.HttpBootPort,
                    ["LinkKind"] = "AfPacket",
                },
                ["Power"] = new JsonObject
                {
                    ["Drivers"] = new JsonArray("ipmi"),
                    ["Credentials"] = new JsonObject { ["Directory"] = paths.Credentials },
                    ["Ipmi"] = new JsonObject { ["CipherSuite"] = 3 },
                    ["PollInterval"] = "00:00:05",
                },
            },
            ["Logging"] = new JsonObject
            {
                ["LogLevel"] = new JsonObject { ["Default"] = "Information", ["Microsoft.AspNetCore"] = "Warning" },
            },
        };
        return config.ToJsonString(s_indented) + "\n";
    }

    private static JsonObject Interface(LabNic nic)
    {
        var o = new JsonObject { ["mac"] = nic.Mac, ["ip"] = nic.Address, ["prefix"] = nic.Prefix };
        if (nic.Gateway is { } gateway)
        {
            o["gateway"] = gateway;
        }

        return o;
    }
}
