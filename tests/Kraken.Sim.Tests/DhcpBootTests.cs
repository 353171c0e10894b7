// Simulated boots whose DHCP exchanges go through each parent's real DHCP server.
using Kraken.Net.Packets;
using Kraken.Sim.Cluster;
using Kraken.Sim.Scenarios;
using Kraken.Tree.State;

namespace Kraken.Sim.Tests;

public class DhcpBootTests
{
    private static SimSettings Small(int nodes, int fanout) => new() { Nodes = nodes, Fanout = [fanout], Seed = 11 };

    /// <summary>The address node <paramref name="i"/>'s Cfg names, as the root holds it.</summary>
    private static uint CfgAddress(SimCluster c, int i) =>
        StandardExtensions.Interface(c.StoreOf(0)!.GetRequired(StateView.Cfg, c.Topology.Ids[i]), SimCluster.InterfaceName)!.Ip;

    [Fact]
    public void Every_node_leases_the_address_its_Cfg_names_from_its_parents_server()
    {
        var runner = new ScenarioRunner(Small(200, 10), new ScenarioOptions());
        var r = runner.Run();
        var c = runner.Cluster!;

        Assert.True(r.Converged);
        var distinct = new HashSet<uint>();
        for (var i = 1; i <= c.Count; i++)
        {
            Assert.Equal(CfgAddress(c, i), c.LeaseOf(i));
            Assert.True(distinct.Add(c.LeaseOf(i)), $"node {i} got {Ipv4.ToAddress(c.LeaseOf(i))} twice");
            Assert.Equal(0xC612_0000u, c.LeaseOf(i) & Ipv4.Mask(15));
        }

        // One DISCOVER, OFFER, REQUEST and ACK per node, nothing lost, nothing unknown.
        var d = r.Dhcp!;
        Assert.Equal(c.Count, d.Leases);
        Assert.Equal(2 * c.Count, d.ClientFrames.Sum());
        Assert.Equal(2 * c.Count, d.ServerFrames.Sum());
        Assert.Equal(2 * c.Topology.TierCounts[1], d.ClientFrames[1]);
        Assert.Equal(2 * c.Topology.TierCounts[1], d.ServerFrames[0]);
        Assert.Equal((0L, 0L, 0L, 0L), (d.Retransmissions, d.Lost, d.UnknownClients, d.Dropped));
        Assert.Equal(2 * c.Count, d.Received);
        Assert.Equal(2 * c.Count, d.Sent);
        Assert.Equal(1 + c.Topology.TierCounts[1], d.Servers);

        // The summary and the JSON carry the figures.
        var text = new StringWriter();
        Reports.SummaryTable.Write(text, r);
        Assert.Contains("dhcp frames (client / server)", text.ToString());
        var path = Path.Combine(Path.GetTempPath(), $"kraken-sim-dhcp-{Guid.NewGuid():N}.json");
        try
        {
            Reports.JsonReport.WriteRuns(path, [r]);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            var json = doc.RootElement.GetProperty("runs")[0].GetProperty("dhcp");
            Assert.Equal(4 * c.Count, json.GetProperty("frames").GetInt64());
            Assert.Equal(c.Count, json.GetProperty("leases").GetInt64());
            Assert.Equal(0, json.GetProperty("unknownClients").GetInt64());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void With_loss_the_firmware_retransmits_and_every_node_still_gets_its_address()
    {
        var runner = new ScenarioRunner(Small(150, 10) with { Loss = 0.1 }, new ScenarioOptions());
        var r = runner.Run();
        var c = runner.Cluster!;

        Assert.True(r.Converged);
        var d = r.Dhcp!;
        Assert.True(d.Lost > 0, "no DHCP frame was lost");
        Assert.True(d.Retransmissions > 0, "no DHCP message was sent again");
        Assert.True(d.ClientFrames.Sum() > 2 * c.Count);
        for (var i = 1; i <= c.Count; i++)
        {
            Assert.Equal(CfgAddress(c, i), c.LeaseOf(i));
        }
    }

    [Fact]
    public void A_node_whose_MAC_its_parent_does_not_know_never_gets_past_PXE()
    {
        var settings = Small(60, 6) with { WrongMac = new HashSet<int> { 60 }, Limit = TimeSpan.FromMinutes(12) };
        var runner = new ScenarioRunner(settings, new ScenarioOptions());
        var r = runner.Run();
        var c = runner.Cluster!;
        var t = c.Topology;
        Assert.Equal(2, t.Tier[60]);

        // Everyone else boots; the unknown node is asked about again and again but never leases nor joins.
        Assert.False(r.Converged);
        Assert.Equal(c.Count - 1, c.Root.InSync);
        Assert.True(c.Root.FirstSync[60] < 0);
        Assert.Equal(0u, c.LeaseOf(60));
        var server = c.DhcpServerOf(t.Parent[60])!;
        Assert.True(server.Counters.UnknownClients >= 4, server.Counters.ToString());
        Assert.True(r.Dhcp!.UnknownClients >= 4);
        Assert.True(r.Dhcp.GaveUp >= 1);
        Assert.Equal(c.Count - 1, r.Dhcp.Leases);
        var pxe = c.StoreOf(0)!.GetRequired(StateView.Dsc, t.Ids[60]).Get(c.StoreOf(0)!.Schema.Resolve(SimModules.PxeState)).ToString();
        Assert.DoesNotContain(pxe, new[] { "WAIT", "INIT" });
    }

    [Fact]
    public void With_dhcp_as_a_delay_no_frame_is_sent_and_the_boot_still_converges()
    {
        var r = new ScenarioRunner(Small(100, 10) with { Dhcp = DhcpMode.Delay }, new ScenarioOptions()).Run();
        Assert.True(r.Converged);
        Assert.Null(r.Dhcp);
    }
}
