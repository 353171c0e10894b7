// Shared fixtures: a typical node and the example files shipped in examples/.
global using Proto = Kraken.Tree.State.Proto;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests;

internal static class TestData
{
    public static readonly NodeId Root = NodeId.DefaultRoot;

    public static string ExamplePath(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"examples/{name} not found above {AppContext.BaseDirectory}");
    }

    /// <summary>A node as a cluster description would have it: core fields, one interface, PXE, power, a service.</summary>
    public static NodeRecord TypicalNode(StateSchema schema, int n, NodeId? parent = null)
    {
        var id = new NodeId(0x0000_0000_0000_4000UL, 0x8000_0000_0000_0000UL | (uint)n);
        var e = NodeRecord.Empty(id, schema).Edit();
        e.Set("/Nodename", $"n{n:D6}");
        e.Set("/RunState", "SYNC");
        e.Set("/PhysState", "POWER_ON");
        e.Set("/Arch", "amd64");
        e.Set("/Platform", "qemu");
        e.Set(schema.ParentId, StateValue.FromNodeId(parent ?? Root));
        e.Set("/Extensions/IPv4/Interfaces/kraken/Device", "eth0");
        e.Set("/Extensions/IPv4/Interfaces/kraken/Mac", StateValue.FormatMac(0x5254_0000_0000UL | (ulong)(uint)n));
        e.Set("/Extensions/IPv4/Interfaces/kraken/Ip", StateValue.FormatIPv4(0xC612_0000u | (uint)(n & 0xFFFF)));
        e.Set("/Extensions/IPv4/Interfaces/kraken/Prefix", "16");
        e.Set("/Extensions/Pxe/Method", "IPXE");
        e.Set("/Extensions/Pxe/State", "NONE");
        e.Set("/Extensions/Power/Driver", "ipmi");
        e.Set("/Extensions/Power/Address", StateValue.FormatIPv4(0xC613_0000u | (uint)(n & 0xFFFF)));
        e.Set("/Services/node-exporter/State", "RUN");
        return e.Build();
    }
}
