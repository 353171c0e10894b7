// Which scenario to run and its own knobs.
namespace Kraken.Sim.Scenarios;

internal enum ScenarioKind
{
    /// <summary>All machines off; Cfg says POWER_ON and SYNC: power, boot, join.</summary>
    Coldboot,

    /// <summary>A Cfg change at the root; time until every node's Dsc matches it, seen at the root.</summary>
    Change,

    /// <summary>Tier-1 nodes die; their children fail over to backup parents; the root sees ERROR, then recovery.</summary>
    KillParent,

    /// <summary>A tier-1 subtree is cut off from the root and healed.</summary>
    Partition,
}

internal sealed record ScenarioOptions
{
    public ScenarioKind Kind { get; init; } = ScenarioKind.Coldboot;

    /// <summary>Start from machines already on (daemons start tier by tier) instead of a cold boot; default for every scenario but coldboot.</summary>
    public bool? Warm { get; init; }

    /// <summary>Warm start: the daemons of a tier start at times spread uniformly over this window.</summary>
    public TimeSpan WarmSpread { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>kill-parent: how many tier-1 nodes die.</summary>
    public int Kill { get; init; } = 1;

    /// <summary>kill-parent: when the dead hosts come back by themselves after they died; zero (default): only the root's power cycle brings them back.</summary>
    public TimeSpan Revive { get; init; }

    /// <summary>partition, and coldboot with <see cref="PartitionAt"/>: how long the cut lasts.</summary>
    public TimeSpan PartitionFor { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>coldboot: cut the first tier-1 subtree off at this simulated time of the boot; null: no cut.</summary>
    public TimeSpan? PartitionAt { get; init; }

    /// <summary>partition: half-way through the cut the root changes every node's Cfg; the run waits until every Dsc shows it.</summary>
    public bool PartitionChange { get; init; }

    /// <summary>Quiet time after convergence before the fault or change.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(10);

    public bool IsWarm => Warm ?? Kind != ScenarioKind.Coldboot;

    /// <summary>Throws <see cref="ArgumentException"/> naming an option that does not fit the scenario.</summary>
    public void Validate()
    {
        if (PartitionAt is not null && Kind != ScenarioKind.Coldboot)
        {
            throw new ArgumentException($"--partition-at applies to the coldboot scenario (the partition scenario cuts after --settle); the scenario is {Name(Kind)}.");
        }

        if (PartitionAt is not null && IsWarm)
        {
            throw new ArgumentException("--partition-at cuts during a cold boot; it does not go with --warm.");
        }

        if (PartitionChange && Kind != ScenarioKind.Partition)
        {
            throw new ArgumentException($"--partition-change applies to the partition scenario; the scenario is {Name(Kind)}.");
        }

        if (PartitionFor <= TimeSpan.Zero)
        {
            throw new ArgumentException("--partition-for must be positive.");
        }
    }

    public static string Name(ScenarioKind kind) => kind switch
    {
        ScenarioKind.Coldboot => "coldboot",
        ScenarioKind.Change => "change",
        ScenarioKind.KillParent => "kill-parent",
        _ => "partition",
    };

    public static ScenarioKind Parse(string text) => text switch
    {
        "coldboot" => ScenarioKind.Coldboot,
        "change" => ScenarioKind.Change,
        "kill-parent" => ScenarioKind.KillParent,
        "partition" => ScenarioKind.Partition,
        _ => throw new ArgumentException($"--scenario: unknown scenario '{text}'; known: coldboot, change, kill-parent, partition."),
    };
}
