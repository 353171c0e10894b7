// A store with nodes that have a boot interface in their IPv4 extension, for the PXE tests.
using Kraken.Modules.Pxe;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Pxe.Boot;

internal static class BootNodes
{
    public static readonly NodeId Parent = NodeId.FromName("parent");

    /// <summary>A child of <see cref="Parent"/> named <paramref name="name"/> with MAC and address on interface <paramref name="iface"/>.</summary>
    public static NodeId Add(StateStore store, string name, string mac, string ip, int prefix = 24, string? gateway = null, string iface = "kraken", NodeId? parent = null, string? pxeDsc = null, string? physDsc = null)
    {
        var id = NodeId.FromName(name);
        var cfg = NodeRecord.Empty(id, store.Schema).Edit();
        cfg.Set(store.Schema.ParentId, StateValue.FromNodeId(parent ?? Parent));
        cfg.Set("/Nodename", name);
        cfg.Set($"/Extensions/IPv4/Interfaces/{iface}/Mac", mac);
        cfg.Set($"/Extensions/IPv4/Interfaces/{iface}/Ip", ip);
        cfg.Set($"/Extensions/IPv4/Interfaces/{iface}/Prefix", prefix.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (gateway is not null)
        {
            cfg.Set($"/Extensions/IPv4/Interfaces/{iface}/Gateway", gateway);
        }

        var dsc = NodeRecord.Empty(id, store.Schema).Edit();
        if (pxeDsc is not null)
        {
            dsc.Set("/Extensions/Pxe/State", pxeDsc);
        }

        if (physDsc is not null)
        {
            dsc.Set("/PhysState", physDsc);
        }

        store.Create(cfg.Build(), dsc.Build());
        return id;
    }

    public static StateStore Store() => new(StateSchema.Default);

    public static BootNodeDirectory Directory(StateStore store) => new(store, BootNodeDirectory.ChildrenOf(store, Parent));
}
