// A typical compute node's records, as a state file would describe it: the unit of the bandwidth comparison.
using Kraken.Tree.State;

namespace Kraken.Sync.Bench;

internal static class TypicalNode
{
    /// <summary>Cfg of a compute node: identity, placement, two interfaces, PXE, power and three services.</summary>
    public static NodeRecord Cfg(NodeId id, int index, NodeId parent, NodeId? backup)
    {
        var e = Common(NodeRecord.Empty(id).Edit(), index)
            .Set("/RunState", "SYNC")
            .Set("/ParentId", parent.ToString())
            .Set("/Extensions/IPv4/Interfaces/ipmi/Mac", Mac(1, index))
            .Set("/Extensions/IPv4/Interfaces/ipmi/Ip", Ip(100, index))
            .Set("/Extensions/Pxe/Method", "IPXE")
            .Set("/Extensions/Power/Driver", "ipmi")
            .Set("/Extensions/Power/Address", Ip(100, index))
            .Set("/Extensions/Power/Port", "623")
            .Set("/Extensions/Power/User", "admin")
            .Set("/Extensions/Power/Credential", "bmc-default");
        if (backup is { } b)
        {
            e.Set("/BackupParents", b.ToString());
        }

        return e.Build();
    }

    /// <summary>Dsc as the node itself discovers it.</summary>
    public static NodeRecord Dsc(NodeId id, int index) => Common(NodeRecord.Empty(id).Edit(), index).Build();

    /// <summary>What Cfg and Dsc share: identity, the sync interface, boot and service states.</summary>
    private static NodeEditor Common(NodeEditor e, int index) => e
        .Set("/Nodename", $"cn{index:D5}")
        .Set("/Arch", "x86_64")
        .Set("/Platform", "sr650-v3")
        .Set("/PhysState", "POWER_ON")
        .Set("/Extensions/IPv4/Hostname", $"cn{index:D5}.cluster.example")
        .Set("/Extensions/IPv4/Interfaces/kraken/Device", "eno1")
        .Set("/Extensions/IPv4/Interfaces/kraken/Mac", Mac(0, index))
        .Set("/Extensions/IPv4/Interfaces/kraken/Ip", Ip(0, index))
        .Set("/Extensions/IPv4/Interfaces/kraken/Prefix", "16")
        .Set("/Extensions/IPv4/Interfaces/kraken/Mtu", "9000")
        .Set("/Extensions/Pxe/State", "COMP")
        .Set("/Services/kraken/State", "RUN")
        .Set("/Services/power/State", "RUN")
        .Set("/Services/pxe/State", "RUN");

    private static string Mac(int nic, int index) => $"52:54:{nic:x2}:{(index >> 16) & 0xFF:x2}:{(index >> 8) & 0xFF:x2}:{index & 0xFF:x2}";

    private static string Ip(int net, int index) => $"10.{net + ((index >> 16) & 0xFF)}.{(index >> 8) & 0xFF}.{index & 0xFF}";
}
