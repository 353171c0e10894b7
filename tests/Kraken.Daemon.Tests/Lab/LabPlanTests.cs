// The lab's address, MAC, id and name plan: every rule of docs/lab.md checked on small and extreme layouts.
using System.Net;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Lab;

namespace Kraken.Daemon.Tests.Lab;

public sealed class LabPlanTests
{
    private static readonly IPAddress s_labNetwork = IPAddress.Parse("198.18.0.0");

    [Fact]
    public void One_tier1_with_one_leaf_is_three_nodes_at_their_documented_addresses()
    {
        var plan = LabPlan.Create("/var/lib/kraken-lab/default", 1, 1, backup: false);

        Assert.Equal(["root", "t1", "t1n1"], plan.Nodes.Select(n => n.Name));
        Assert.Equal("3 nodes (root, 1 tier-1, 1 leaf each)", plan.Describe());
        var root = plan.Root;
        Assert.Equal(("198.18.0.1", "52:54:00:18:00:01"), (root.Uplink.Address, root.Uplink.Mac));
        Assert.Null(root.Bmc);

        var t1 = plan.Node("t1");
        Assert.Equal(root.Id, t1.ParentId);
        Assert.Equal(("198.18.0.11", "52:54:00:18:00:0b", "kraken"), (t1.Uplink.Address, t1.Uplink.Mac, t1.Uplink.Name));
        Assert.Equal(("198.18.1.1", "52:54:00:18:01:01", "pxe"), (t1.Downlink!.Address, t1.Downlink.Mac, t1.Downlink.Name));
        Assert.Equal("198.18.0.101", t1.Bmc);
        Assert.Equal(1024, t1.MemoryMiB);

        var leaf = plan.Node("t1n1");
        Assert.Equal(t1.Id, leaf.ParentId);
        Assert.Equal(("198.18.1.11", "52:54:00:18:01:0b", "198.18.1.1"), (leaf.Uplink.Address, leaf.Uplink.Mac, leaf.Uplink.Gateway));
        Assert.Equal("198.18.1.101", leaf.Bmc);
        Assert.Null(leaf.Downlink);
        Assert.Empty(leaf.BackupParents);
        Assert.Equal(512, leaf.MemoryMiB);

        // The segments: the root's carries the tier-1 BMCs, each leaf segment its leaves' BMCs.
        Assert.Equal([("198.18.0.0", new[] { "198.18.0.101" }), ("198.18.1.0", new[] { "198.18.1.101" })],
            plan.Segments.Select(s => (s.Network, s.BmcAddresses.ToArray())));
        Assert.Equal(t1.Uplink.Bridge, plan.Segments[0].Bridge);
        Assert.Equal(t1.Downlink.Bridge, leaf.Uplink.Bridge);
    }

    [Fact]
    public void Default_layout_gives_each_tier1_its_own_segment()
    {
        var plan = LabPlan.Create("/tmp/lab-a", 3, 2, backup: false);

        Assert.Equal(1 + 3 + 6, plan.Nodes.Count);
        var t3 = plan.Node("t3");
        Assert.Equal(("198.18.0.13", "198.18.0.103", "198.18.3.1"), (t3.Uplink.Address, t3.Bmc, t3.Downlink!.Address));
        var leaf = plan.Node("t3n2");
        Assert.Equal(("198.18.3.12", "198.18.3.102", "198.18.3.1", "52:54:00:18:03:0c"), (leaf.Uplink.Address, leaf.Bmc, leaf.Uplink.Gateway, leaf.Uplink.Mac));
        Assert.Equal(4, plan.Segments.Count);
        Assert.All(plan.Nodes.Where(n => n.Tier == LabTier.Leaf), l => Assert.Empty(l.BackupParents));
    }

    [Fact]
    public void Backup_layout_shares_one_leaf_segment_and_names_the_next_tier1_as_backup_parent()
    {
        var plan = LabPlan.Create("/tmp/lab-b", 3, 2, backup: true);

        Assert.Equal(2, plan.Segments.Count);
        Assert.Equal("198.18.1.0", plan.Segments[1].Network);
        Assert.Equal(6, plan.Segments[1].BmcAddresses.Count);
        var t2 = plan.Node("t2");
        Assert.Equal("198.18.1.2", t2.Downlink!.Address);
        var leaf = plan.Node("t2n1");
        Assert.Equal(("198.18.1.21", "198.18.1.121", "198.18.1.2"), (leaf.Uplink.Address, leaf.Bmc, leaf.Uplink.Gateway));
        Assert.Equal([LabPlan.NodeIdOf(3, 0)], leaf.BackupParents);
        Assert.Equal([LabPlan.NodeIdOf(1, 0)], plan.Node("t3n2").BackupParents); // (i mod N) + 1 wraps around
        Assert.All(plan.Vms.Where(v => v.Tier == LabTier.Tier1), t => Assert.Equal(plan.Segments[1].Bridge, t.Downlink!.Bridge));

        // With one tier-1 there is nobody else to fail over to.
        Assert.All(LabPlan.Create("/tmp/lab-b", 1, 3, backup: true).Nodes, n => Assert.Empty(n.BackupParents));
    }

    [Theory]
    [InlineData(89, 89, false)]
    [InlineData(9, 9, true)]
    [InlineData(2, 0, false)]
    public void Every_address_mac_id_and_name_is_unique_and_inside_the_rules(int tier1, int leaves, bool backup)
    {
        var plan = LabPlan.Create("/var/lib/kraken-lab/a-rather-long-directory-name/for/the/lab", tier1, leaves, backup);

        var nics = plan.Nodes.SelectMany(n => n.Downlink is { } d ? new[] { n.Uplink, d } : [n.Uplink]).ToList();
        var addresses = nics.Select(n => n.Address).Concat(plan.Vms.Select(v => v.Bmc!)).ToList();
        addresses.AddRange([LabPlan.ApiAddress, LabPlan.HostManagementAddress]);
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        Assert.All(addresses, a => Assert.True(InLabRange(a), $"{a} is outside 198.18.0.0/15"));
        Assert.All(addresses, a => Assert.DoesNotMatch(@"\.(0|255)$", a)); // neither network nor broadcast address

        Assert.Equal(nics.Count, nics.Select(n => n.Mac).Distinct().Count());
        Assert.All(nics, n => Assert.Matches("^52:54:00:18:[0-9a-f]{2}:[0-9a-f]{2}$", n.Mac));
        Assert.Equal(plan.Nodes.Count, plan.Nodes.Select(n => n.Id).Distinct().Count());
        Assert.All(plan.Nodes, n => Assert.True(Guid.TryParse(n.Id, out var g) && g != Guid.Empty));
        Assert.Equal(plan.Nodes.Count, plan.Nodes.Select(n => n.Name).Distinct().Count());
        Assert.Equal(plan.Vms.Count(), plan.Vms.Select(v => v.SerialPort).Distinct().Count());

        var links = plan.LinkNames().ToList();
        Assert.Equal(links.Count, links.Distinct().Count());
        Assert.All(links, l => Assert.True(l.Length <= 15 && l.StartsWith(plan.Name + "-", StringComparison.Ordinal), $"link '{l}'"));
        Assert.All(plan.Nodes.Where(n => n.IsVm), n => Assert.True(SameSegment(n.Uplink.Address, n.Bmc!), $"{n.Name}: its BMC is not on its parent's segment"));
        Assert.All(plan.Nodes.Where(n => n.Tier == LabTier.Leaf), l => Assert.Equal(plan.ParentOf(l)!.Downlink!.Bridge, l.Uplink.Bridge));
    }

    [Fact]
    public void The_name_is_a_short_hash_of_the_directory_so_two_labs_never_share_a_name()
    {
        var a = LabPlan.Create("/tmp/lab-one", 1, 1, false);
        var b = LabPlan.Create("/tmp/lab-two", 1, 1, false);

        Assert.Matches("^k[0-9a-f]{5}$", a.Name);
        Assert.NotEqual(a.Name, b.Name);
        Assert.Equal(a.Name, LabPlan.Create("/tmp/lab-one/", 1, 1, false).Name); // the same directory, however written
        Assert.Equal(a.Name, LabPlan.Create("/tmp/x/../lab-one", 2, 3, true).Name);
        Assert.Equal($"{a.Name}-root", a.RootNamespace);
        Assert.Equal($"{a.Name}-net", a.FabricNamespace);
        Assert.Empty(a.LinkNames().Intersect(b.LinkNames()));
    }

    [Fact]
    public void Node_ids_and_macs_follow_the_position()
    {
        Assert.Equal("00000000-0000-4000-8000-1ab000000000", LabPlan.NodeIdOf(0, 0));
        Assert.Equal("00000000-0000-4000-8000-1ab000030007", LabPlan.NodeIdOf(3, 7));
        Assert.Equal("52:54:00:18:59:63", LabPlan.MacOf("198.18.89.99"));
    }

    [Theory]
    [InlineData(0, 1, false, "--tier1 0")]
    [InlineData(90, 1, false, "--tier1 90")]
    [InlineData(1, 90, false, "--leaves 90")]
    [InlineData(1, -1, false, "--leaves -1")]
    [InlineData(10, 1, true, "--tier1 10: must be from 1 to 9 with --backup")]
    [InlineData(1, 10, true, "--leaves 10: must be from 0 to 9 with --backup")]
    public void Counts_out_of_range_are_usage_errors_naming_the_option(int tier1, int leaves, bool backup, string expected)
    {
        var e = Assert.Throws<CliException>(() => LabPlan.Create("/tmp/lab", tier1, leaves, backup));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(2, e.ExitCode);
    }

    private static bool InLabRange(string address) => LabNet.Overlaps(IPAddress.Parse(address), 32, s_labNetwork, 15);

    private static bool SameSegment(string a, string b) => LabNet.Overlaps(IPAddress.Parse(a), 24, IPAddress.Parse(b), 24);
}
