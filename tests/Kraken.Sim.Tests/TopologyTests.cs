using Kraken.Sim.Topology;

namespace Kraken.Sim.Tests;

public class TopologyTests
{
    [Theory]
    [InlineData(100, 2, 10)]
    [InlineData(1000, 2, 32)]
    [InlineData(10_000, 3, 20)]
    [InlineData(7, 2, 3)]
    public void Nodes_are_spread_over_the_tiers_within_the_fanout(int nodes, int tiers, int fanout)
    {
        var t = SimTopology.Create(nodes, tiers, fanout);
        Assert.Equal(nodes, t.Count);
        Assert.Equal(nodes, t.TierCounts[1..].Sum());
        Assert.True(t.Tiers <= tiers);
        for (var i = 1; i <= nodes; i++)
        {
            var p = t.Parent[i];
            Assert.Equal(t.Tier[i] - 1, t.Tier[p]);
            if (t.Tier[i] > 1)
            {
                Assert.InRange(t.ChildrenOf(p).Length, 1, fanout);
            }

            if (t.Backup[i] >= 0)
            {
                Assert.NotEqual(p, t.Backup[i]);
                Assert.Equal(t.Tier[p], t.Tier[t.Backup[i]]);
            }
        }

        Assert.Equal(nodes, Enumerable.Range(0, nodes + 1).Sum(i => t.ChildrenOf(i).Length));
        Assert.Equal(nodes + 1, t.Ids.Distinct().Count());
    }

    [Fact]
    public void Explicit_fanouts_give_exact_tier_sizes()
    {
        var t = SimTopology.FromFanouts([4, 5, 2]);
        Assert.Equal([1, 4, 20, 40], t.TierCounts);
        Assert.All(Enumerable.Range(1, 4), i => Assert.Equal(5, t.ChildrenOf(i).Length));
        Assert.Equal(-1, t.Backup[1]);
        var leaf = t.ChildrenOf(t.ChildrenOf(4)[0])[0];
        Assert.Equal(3, t.Tier[leaf]);
        Assert.NotEqual(-1, t.Backup[leaf]);
    }

    [Theory]
    [InlineData(0, 2, 10, "--nodes")]
    [InlineData(10, 0, 10, "--tiers")]
    [InlineData(10, 2, 0, "--fanout")]
    public void Bad_shapes_are_refused_by_name(int nodes, int tiers, int fanout, string option)
    {
        var ex = Assert.Throws<ArgumentException>(() => SimTopology.Create(nodes, tiers, fanout));
        Assert.Contains(option, ex.Message, StringComparison.Ordinal);
    }
}
