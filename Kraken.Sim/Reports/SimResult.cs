// The outcome of one simulation run: convergence, traffic, cost and the scenario's own figures.
namespace Kraken.Sim.Reports;

/// <summary>Everything a run reports; the summary table, the JSON file and the plots are views of it.</summary>
internal sealed class SimResult
{
    public required string Scenario { get; init; }

    public required string Profile { get; init; }

    public required int Seed { get; init; }

    public required int Nodes { get; init; }

    /// <summary>Nodes per tier below the root, tier 1 first.</summary>
    public required int[] TierCounts { get; init; }

    public required int[] Fanout { get; init; }

    /// <summary>Settings as text, in a fixed order (hello, dead, latency, loss...).</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; }

    public bool Converged { get; set; }

    public TimeSpan Simulated { get; set; }

    public TimeSpan Wall { get; set; }

    public long PeakMemoryBytes { get; set; }

    /// <summary>Time from start to the given fraction of nodes first in SYNC at the root (null when not reached).</summary>
    public IReadOnlyList<(double Fraction, TimeSpan? Time)> SyncTimes { get; set; } = [];

    public long Messages { get; set; }

    /// <summary>Kernels that came up, and machines switched off or reset by a power module.</summary>
    public long Boots { get; set; }

    public long PowerLosses { get; set; }

    public long Bytes { get; set; }

    /// <summary>The boot's DHCP exchanges through the parents' servers; null when DHCP was part of the PXE delay.</summary>
    public DhcpResult? Dhcp { get; set; }

    public IReadOnlyList<TierResult> Tiers { get; set; } = [];

    /// <summary>Scenario figures: name, value, unit, in report order.</summary>
    public List<Figure> Figures { get; } = [];

    /// <summary>Nodes first in SYNC over time, per tier: (seconds, count) steps, for the convergence plot.</summary>
    public IReadOnlyList<IReadOnlyList<(double Seconds, int Count)>> Convergence { get; set; } = [];

    /// <summary>For a run that did not converge: the first nodes not in SYNC at the root, and why, as their parents see them.</summary>
    public IReadOnlyList<Straggler> Stragglers { get; set; } = [];

    /// <summary>How many nodes were not in SYNC at the root when the run ended.</summary>
    public int NotInSync { get; set; }

    public double SpeedUp => Wall.TotalSeconds > 0 ? Simulated.TotalSeconds / Wall.TotalSeconds : 0;

    public void Add(string name, double value, string unit) => Figures.Add(new Figure(name, value, unit));
}

internal sealed record TierResult(int Tier, int Nodes, TimeSpan? AllSync, long Messages, long Bytes);

/// <summary>
/// A node not in SYNC at the root at the end of a run: what the root shows (RunState, attached parent) and what its
/// Cfg parent shows and is doing about it (its Dsc, its reconcile state for the node).
/// </summary>
internal sealed record Straggler(string Node, string RootRunState, string RootParent, string Parent, string ParentView, string ParentPlan);

internal sealed record Figure(string Name, double Value, string Unit);

/// <summary>DHCP frames of the run and the parents' servers' counters, summed.</summary>
internal sealed record DhcpResult(long[] ClientFrames, long[] ServerFrames, long Retransmissions, long Lost, long Leases, long GaveUp,
    long NoServer, long Servers, long Received, long Sent, long UnknownClients, long Dropped)
{
    public long Frames => ClientFrames.Sum() + ServerFrames.Sum();

    public static DhcpResult From(Kraken.Sim.Cluster.SimCluster cluster)
    {
        var d = cluster.Dhcp;
        var tiers = cluster.Topology.TierCounts.Length + 1;
        var servers = cluster.DhcpServers;
        return new DhcpResult(d.ClientFrames[..tiers], d.ServerFrames[..tiers], d.Retransmissions, d.Lost, d.Leases, d.GaveUp, d.NoServer,
            servers.Count, servers.Sum(s => s.Counters.TotalReceived), servers.Sum(s => s.Counters.TotalSent),
            servers.Sum(s => s.Counters.UnknownClients), servers.Sum(s => s.Counters.TotalDropped));
    }
}
