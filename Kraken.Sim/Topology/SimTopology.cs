// The shape of a simulated cluster: a root, tiers of parents and leaves, each node with a primary and a backup parent.
using System.Globalization;
using Kraken.Tree.State;

namespace Kraken.Sim.Topology;

/// <summary>
/// A tree of <see cref="Count"/> nodes below one root, stored as flat arrays (index 0 is the root) so that
/// 100,000 nodes cost a few megabytes. Tier 1 hangs off the root; every node of tier k+1 has a primary parent
/// in tier k (round-robin, at most the tier's fan-out children each) and, when its tier has more than one
/// node, a backup parent: the next node of the parent's tier.
/// </summary>
internal sealed class SimTopology
{
    private SimTopology(int[] tier, int[] parent, int[] backup, int[] tierCounts, int[] fanout)
    {
        Tier = tier;
        Parent = parent;
        Backup = backup;
        TierCounts = tierCounts;
        Fanout = fanout;
        Ids = new NodeId[tier.Length];
        var firstChild = new int[tier.Length + 1];
        foreach (var p in parent)
        {
            if (p >= 0)
            {
                firstChild[p + 1]++;
            }
        }

        for (var i = 0; i < tier.Length; i++)
        {
            firstChild[i + 1] += firstChild[i];
            Ids[i] = NodeId.FromName(Name(i));
        }

        // Children of node i are _children[_firstChild[i] .. _firstChild[i + 1]), in index order.
        var fill = (int[])firstChild.Clone();
        var children = new int[Math.Max(0, tier.Length - 1)];
        for (var i = 1; i < tier.Length; i++)
        {
            children[fill[parent[i]]++] = i;
        }

        _firstChild = firstChild;
        _children = children;
    }

    private readonly int[] _firstChild;
    private readonly int[] _children;

    /// <summary>Nodes below the root.</summary>
    public int Count => Tier.Length - 1;

    /// <summary>Tiers below the root.</summary>
    public int Tiers => TierCounts.Length - 1;

    /// <summary>Tier of each node (0 for the root).</summary>
    public int[] Tier { get; }

    /// <summary>Primary parent of each node (-1 for the root).</summary>
    public int[] Parent { get; }

    /// <summary>Backup parent of each node (-1 when it has none).</summary>
    public int[] Backup { get; }

    /// <summary>Nodes per tier; index 0 is the root's tier (1).</summary>
    public int[] TierCounts { get; }

    /// <summary>Children per parent of each tier below the root, as asked for (the last parent of a tier may have fewer).</summary>
    public int[] Fanout { get; }

    public NodeId[] Ids { get; }

    public ReadOnlySpan<int> ChildrenOf(int node) => _children.AsSpan(_firstChild[node], _firstChild[node + 1] - _firstChild[node]);

    public bool IsLeaf(int node) => _firstChild[node + 1] == _firstChild[node];

    public static string Name(int index) => index == 0 ? "root" : "n" + index.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>
    /// <paramref name="nodes"/> nodes below the root in <paramref name="tiers"/> tiers with <paramref name="fanout"/>
    /// children per parent below tier 1; tier 1 is as wide as it must be to hold them all.
    /// </summary>
    public static SimTopology Create(int nodes, int tiers, int fanout)
    {
        if (nodes < 1)
        {
            throw new ArgumentException($"--nodes must be at least 1 (was {nodes}).");
        }

        if (tiers < 1 || tiers > 8)
        {
            throw new ArgumentException($"--tiers must be between 1 and 8 (was {tiers}).");
        }

        if (fanout < 1)
        {
            throw new ArgumentException($"--fanout must be at least 1 (was {fanout}).");
        }

        // A tier-1 subtree holds 1 + F + F^2 + ... + F^(T-1) nodes.
        double subtree = 0;
        for (var k = 0; k < tiers; k++)
        {
            subtree += Math.Pow(fanout, k);
        }

        var tier1 = (int)Math.Max(1, Math.Ceiling(nodes / subtree));
        var counts = new List<int> { 1, Math.Min(tier1, nodes) };
        var left = nodes - counts[1];
        while (counts.Count <= tiers && left > 0)
        {
            var next = (int)Math.Min(left, (long)counts[^1] * fanout);
            counts.Add(next);
            left -= next;
        }

        if (left > 0)
        {
            counts[^1] += left;
        }

        var fan = new int[counts.Count - 1];
        fan[0] = counts[1];
        for (var t = 1; t < fan.Length; t++)
        {
            fan[t] = fanout;
        }

        return Build([.. counts], fan);
    }

    /// <summary>Explicit children per parent for each tier: <c>[32, 100]</c> is 32 tier-1 nodes with 100 leaves each.</summary>
    public static SimTopology FromFanouts(IReadOnlyList<int> fanouts)
    {
        if (fanouts.Count is < 1 or > 8 || fanouts.Any(f => f < 1))
        {
            throw new ArgumentException("--fanout with several values needs 1 to 8 positive numbers, one per tier (tier 1 first).");
        }

        var counts = new int[fanouts.Count + 1];
        counts[0] = 1;
        long total = 0;
        for (var t = 0; t < fanouts.Count; t++)
        {
            var c = (long)counts[t] * fanouts[t];
            total += c;
            if (total > 10_000_000)
            {
                throw new ArgumentException($"--fanout {string.Join(',', fanouts)} makes more than 10,000,000 nodes.");
            }

            counts[t + 1] = (int)c;
        }

        return Build(counts, [.. fanouts]);
    }

    private static SimTopology Build(int[] counts, int[] fanout)
    {
        var total = counts.Sum();
        var tier = new int[total];
        var parent = new int[total];
        var backup = new int[total];
        parent[0] = backup[0] = -1;
        var levelStart = 0;
        var index = 1;
        for (var t = 1; t < counts.Length; t++)
        {
            var parents = counts[t - 1];
            for (var j = 0; j < counts[t]; j++, index++)
            {
                tier[index] = t;
                var p = parents == 1 ? 0 : j % parents;
                parent[index] = levelStart + p;
                backup[index] = parents > 1 ? levelStart + ((p + 1) % parents) : -1;
            }

            levelStart += parents;
        }

        return new SimTopology(tier, parent, backup, counts, fanout);
    }
}
