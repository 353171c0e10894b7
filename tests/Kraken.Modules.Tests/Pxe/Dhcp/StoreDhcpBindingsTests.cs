// Bindings read from the IPv4 extension of the nodes in a state store, limited to a subtree, kept current.
using System.Net.NetworkInformation;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Pxe.Dhcp;

public class StoreDhcpBindingsTests
{
    private static NodeId Node(StateStore store, string name, string mac, string ip, string? prefix = "24", string? gateway = "198.18.0.254", string? hostname = null)
    {
        var id = NodeId.FromName(name);
        var cfg = NodeRecord.Empty(id, store.Schema).Edit()
            .Set("/Nodename", name)
            .Set("/Extensions/IPv4/Interfaces/kraken/Mac", mac)
            .Set("/Extensions/IPv4/Interfaces/kraken/Ip", ip);
        if (prefix is not null)
        {
            cfg.Set("/Extensions/IPv4/Interfaces/kraken/Prefix", prefix);
        }

        if (gateway is not null)
        {
            cfg.Set("/Extensions/IPv4/Interfaces/kraken/Gateway", gateway);
        }

        if (hostname is not null)
        {
            cfg.Set("/Extensions/IPv4/Hostname", hostname);
        }

        store.Create(cfg.Build());
        return id;
    }

    [Fact]
    public void Nodes_in_the_subtree_are_bound_and_changes_are_followed()
    {
        var store = new StateStore();
        var a = Node(store, "n0001", "52:54:00:18:00:01", "198.18.0.11", hostname: "compute-1");
        var b = Node(store, "n0002", "52:54:00:18:00:02", "198.18.0.12", prefix: null, gateway: null);
        var outside = Node(store, "n0003", "52:54:00:18:00:03", "198.18.0.13");
        using var bindings = new StoreDhcpBindings(store, id => id != outside);

        Assert.True(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-01"), out var first));
        Assert.Equal((a, "198.18.0.11", 24, "198.18.0.254", "compute-1"),
            (first.Node, first.Address.ToString(), first.PrefixLength, first.Gateway?.ToString(), first.Hostname));
        Assert.True(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-02"), out var second));
        Assert.Equal((b, "198.18.0.12", 24, null, "n0002"),
            (second.Node, second.Address.ToString(), second.PrefixLength, second.Gateway?.ToString(), second.Hostname));
        Assert.False(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-03"), out _));
        Assert.False(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-09"), out _));

        store.Set(StateView.Cfg, a, "/Extensions/IPv4/Interfaces/kraken/Ip", "198.18.0.21");
        Assert.True(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-01"), out first));
        Assert.Equal("198.18.0.21", first.Address.ToString());

        var table = bindings.Table;
        store.Set(StateView.Dsc, a, "/Nodename", "n0001");     // discovered state: no rebuild
        Assert.Same(table, bindings.Table);

        store.Delete(b);
        Assert.False(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-02"), out _));
        var c = Node(store, "n0004", "52:54:00:18:00:04", "198.18.0.14");
        Assert.True(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-04"), out var fourth));
        Assert.Equal(c, fourth.Node);
    }

    [Fact]
    public void A_mac_configured_twice_resolves_to_one_node_and_is_counted()
    {
        var store = new StateStore();
        Node(store, "n0001", "52:54:00:18:00:01", "198.18.0.11");
        Node(store, "n0002", "52:54:00:18:00:01", "198.18.0.12");
        using var bindings = new StoreDhcpBindings(store, _ => true);
        Assert.True(bindings.TryGet(PhysicalAddress.Parse("52-54-00-18-00-01"), out _));
        Assert.Equal(1, bindings.Table.Conflicts);
        Assert.Equal(1, bindings.Table.Count);
    }
}
