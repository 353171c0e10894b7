// The lab's topology as data: names, namespaces, segments, addresses, MACs and node ids, all derived from the
// lab directory and the node counts, so the same arguments always give the same lab.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

/// <summary>Where a node sits in the tree.</summary>
internal enum LabTier
{
    Root = 0,
    Tier1 = 1,
    Leaf = 2,
}

/// <summary>
/// One network interface of a node: <c>Name</c> is the IPv4 interface name in its Cfg (<c>kraken</c>, <c>pxe</c>),
/// <c>Link</c> the tap (a VM's NIC) or veth (the root's) that carries it, <c>Bridge</c> the fabric bridge that link
/// is a port of.
/// </summary>
internal sealed record LabNic(string Name, string Link, string Bridge, string Mac, string Address, int Prefix, string? Gateway);

/// <summary>
/// One node of the lab, the root daemon or a VM. <c>Tier1</c> is the tier-1 index i (1..N) of a tier-1 node or of a
/// leaf's parent (0 for the root), <c>Leaf</c> the leaf index j (1..M) of a leaf (else 0). <c>Uplink</c> faces the
/// parent (the root's is its segment veth); <c>Downlink</c> is a tier-1's interface on its leaf segment, where it
/// serves its leaves. <c>Bmc</c> is a VM's BMC address (its ipmi_sim), on fabric bridge <c>BmcBridge</c>, with the
/// ipmi_sim's VM serial interface on TCP <c>SerialPort</c> of 127.0.0.1 in the fabric.
/// </summary>
internal sealed record LabNode(
    string Id,
    string Name,
    LabTier Tier,
    int Tier1,
    int Leaf,
    string? ParentId,
    IReadOnlyList<string> BackupParents,
    LabNic Uplink,
    LabNic? Downlink,
    string? Bmc,
    string? BmcBridge,
    int SerialPort,
    int MemoryMiB)
{
    public bool IsVm => Tier != LabTier.Root;
}

/// <summary>A fabric bridge with the addresses the fabric namespace holds on it (the BMCs').</summary>
internal sealed record LabSegment(string Bridge, string Network, int Prefix, IReadOnlyList<string> BmcAddresses);

/// <summary>
/// The whole plan. Every name starts with <see cref="Name"/>, a short hash of the lab directory, so labs in two
/// directories never share a namespace or link name. Addresses are in 198.18.0.0/15 only (docs/lab.md).
/// </summary>
internal sealed class LabPlan
{
    public const string ApiAddress = "198.18.255.2";
    public const string HostManagementAddress = "198.18.255.1";
    public const int ManagementPrefix = 30;
    public const string RootAddress = "198.18.0.1";
    public const int ApiPort = 3141;
    public const int SyncPort = 31415;
    public const int HttpBootPort = 8080;
    public const int BmcPort = 623;
    public const string BmcUser = "admin";
    public const string BmcCredential = "lab-bmc";
    public const int Tier1Memory = 1024;
    public const int LeafMemory = 512;

    /// <summary>Default layout: tier-1 i's uplink is .(10+i) and its BMC .(100+i) on the root segment, so i &lt;= 89.</summary>
    public const int MaxTier1 = 89;

    /// <summary>Default layout: leaf j is .(10+j) and its BMC .(100+j) on its segment, so j &lt;= 89.</summary>
    public const int MaxLeaves = 89;

    /// <summary>With --backup every leaf shares 198.18.1.0/24: leaf (i,j) is .(10i+j), so i, j &lt;= 9.</summary>
    public const int MaxBackup = 9;

    private const int FirstSerialPort = 9000;

    private LabPlan(string directory, string name, int tier1, int leaves, bool backup, IReadOnlyList<LabNode> nodes, IReadOnlyList<LabSegment> segments)
    {
        Directory = directory;
        Name = name;
        Tier1Count = tier1;
        LeafCount = leaves;
        Backup = backup;
        Nodes = nodes;
        Segments = segments;
    }

    /// <summary>The lab directory (absolute, normalized).</summary>
    public string Directory { get; }

    /// <summary>The short name every namespace and link starts with: <c>k</c> and 5 hex digits of SHA-256(directory).</summary>
    public string Name { get; }

    public int Tier1Count { get; }

    /// <summary>Leaves under each tier-1.</summary>
    public int LeafCount { get; }

    public bool Backup { get; }

    /// <summary>The root first, then each tier-1 followed by its leaves.</summary>
    public IReadOnlyList<LabNode> Nodes { get; }

    public IReadOnlyList<LabSegment> Segments { get; }

    public LabNode Root => Nodes[0];

    public IEnumerable<LabNode> Vms => Nodes.Where(n => n.IsVm);

    public string RootNamespace => $"{Name}-root";

    public string FabricNamespace => $"{Name}-net";

    /// <summary>The management veth's end in the host namespace (198.18.255.1/30).</summary>
    public string HostLink => $"{Name}-mh";

    /// <summary>The management veth's end in the root namespace (198.18.255.2/30, the API).</summary>
    public string RootManagementLink => $"{Name}-mr";

    /// <summary>The root's segment veth in the root namespace (198.18.0.1/24, PXE and sync).</summary>
    public string RootSegmentLink => $"{Name}-rt";

    /// <summary>The root segment veth's end in the fabric, a port of the root segment's bridge.</summary>
    public string FabricRootLink => $"{Name}-rf";

    public string ApiUrl => $"http://{ApiAddress}:{ApiPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Validates the counts (naming the offending option) and builds the plan.</summary>
    public static LabPlan Create(string directory, int tier1, int leaves, bool backup)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var limit = backup ? MaxBackup : MaxTier1;
        if (tier1 < 1 || tier1 > limit)
        {
            throw new CliException($"--tier1 {tier1}: must be from 1 to {limit}{(backup ? " with --backup" : string.Empty)}", 2);
        }

        limit = backup ? MaxBackup : MaxLeaves;
        if (leaves < 0 || leaves > limit)
        {
            throw new CliException($"--leaves {leaves}: must be from 0 to {limit}{(backup ? " with --backup" : string.Empty)}", 2);
        }

        var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var name = NameOf(dir);
        var nodes = new List<LabNode>();
        var segments = new List<LabSegment>();
        var rootId = NodeIdOf(0, 0);
        var rootBridge = BridgeName(name, 0);
        nodes.Add(new LabNode(rootId, "root", LabTier.Root, 0, 0, null, [],
            new LabNic("kraken", $"{name}-rt", rootBridge, MacOf(RootAddress), RootAddress, 24, null), null, null, null, 0, 0));
        var rootBmcs = new List<string>();
        var leafBmcs = new Dictionary<int, List<string>>();
        var serial = FirstSerialPort;
        for (var i = 1; i <= tier1; i++)
        {
            var t1Id = NodeIdOf(i, 0);
            var t1Name = $"t{i.ToString(CultureInfo.InvariantCulture)}";
            var segment = backup ? 1 : i;
            var downAddress = backup ? $"198.18.1.{i.ToString(CultureInfo.InvariantCulture)}" : $"198.18.{i.ToString(CultureInfo.InvariantCulture)}.1";
            var upAddress = $"198.18.0.{(10 + i).ToString(CultureInfo.InvariantCulture)}";
            var bmc = $"198.18.0.{(100 + i).ToString(CultureInfo.InvariantCulture)}";
            rootBmcs.Add(bmc);
            var leafBridge = BridgeName(name, segment);
            nodes.Add(new LabNode(t1Id, t1Name, LabTier.Tier1, i, 0, rootId, [],
                new LabNic("kraken", $"{name}-{t1Name}u", rootBridge, MacOf(upAddress), upAddress, 24, null),
                new LabNic("pxe", $"{name}-{t1Name}d", leafBridge, MacOf(downAddress), downAddress, 24, null),
                bmc, rootBridge, serial++, Tier1Memory));
            if (!leafBmcs.TryGetValue(segment, out var bmcs))
            {
                leafBmcs[segment] = bmcs = [];
            }

            for (var j = 1; j <= leaves; j++)
            {
                var leafName = $"{t1Name}n{j.ToString(CultureInfo.InvariantCulture)}";
                var host = backup ? (10 * i) + j : 10 + j;
                var address = $"198.18.{segment.ToString(CultureInfo.InvariantCulture)}.{host.ToString(CultureInfo.InvariantCulture)}";
                var leafBmc = $"198.18.{segment.ToString(CultureInfo.InvariantCulture)}.{(backup ? 100 + (10 * i) + j : 100 + j).ToString(CultureInfo.InvariantCulture)}";
                bmcs.Add(leafBmc);
                IReadOnlyList<string> backups = backup && tier1 > 1 ? [NodeIdOf((i % tier1) + 1, 0)] : [];
                nodes.Add(new LabNode(NodeIdOf(i, j), leafName, LabTier.Leaf, i, j, t1Id, backups,
                    new LabNic("kraken", $"{name}-{leafName}", leafBridge, MacOf(address), address, 24, downAddress),
                    null, leafBmc, leafBridge, serial++, LeafMemory));
            }
        }

        segments.Add(new LabSegment(rootBridge, "198.18.0.0", 24, rootBmcs));
        foreach (var (segment, bmcs) in leafBmcs.OrderBy(p => p.Key))
        {
            segments.Add(new LabSegment(BridgeName(name, segment), $"198.18.{segment.ToString(CultureInfo.InvariantCulture)}.0", 24, bmcs));
        }

        return new LabPlan(dir, name, tier1, leaves, backup, nodes, segments);
    }

    /// <summary><c>k</c> and the first 5 hex digits of SHA-256 of the absolute directory path.</summary>
    public static string NameOf(string directory)
    {
        var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(dir));
        return "k" + Convert.ToHexStringLower(hash)[..5];
    }

    /// <summary>
    /// Fixed ids from the position: the last group is <c>1ab0</c>, the tier-1 index and the leaf index as four
    /// decimal digits each, so <c>...-1ab000030007</c> is leaf 7 of tier-1 3 and <c>...-1ab000000000</c> the root.
    /// </summary>
    public static string NodeIdOf(int tier1, int leaf) =>
        string.Create(CultureInfo.InvariantCulture, $"00000000-0000-4000-8000-1ab0{tier1:D4}{leaf:D4}");

    /// <summary>52:54:00:18 and the last two octets of the interface's address (all lab addresses are 198.18.x.y).</summary>
    public static string MacOf(string address)
    {
        var octets = address.Split('.');
        return string.Create(CultureInfo.InvariantCulture, $"52:54:00:18:{int.Parse(octets[2], CultureInfo.InvariantCulture):x2}:{int.Parse(octets[3], CultureInfo.InvariantCulture):x2}");
    }

    private static string BridgeName(string name, int segment) => $"{name}-br{segment.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Every link name of the plan (all within the 15 characters Linux allows).</summary>
    public IEnumerable<string> LinkNames()
    {
        yield return HostLink;
        yield return RootManagementLink;
        yield return RootSegmentLink;
        yield return FabricRootLink;
        foreach (var s in Segments)
        {
            yield return s.Bridge;
        }

        foreach (var n in Vms)
        {
            yield return n.Uplink.Link;
            if (n.Downlink is { } d)
            {
                yield return d.Link;
            }
        }
    }

    public LabNode Node(string name) => Nodes.First(n => n.Name == name);

    public LabNode? ParentOf(LabNode node) => node.ParentId is null ? null : Nodes.First(n => n.Id == node.ParentId);

    /// <summary>Node counts for people: "3 nodes (root, 1 tier-1, 1 leaf each)".</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"{Nodes.Count} nodes (root, {Tier1Count} tier-1, {LeafCount} {(LeafCount == 1 ? "leaf" : "leaves")} {(Backup ? "each on one shared segment with backup parents" : "each")})");
}
