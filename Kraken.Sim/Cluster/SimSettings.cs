// Everything that defines one simulation run, validated before anything starts.
using Kraken.Modules.Power;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.Sync;

namespace Kraken.Sim.Cluster;

/// <summary>Settings of a simulated cluster: topology, protocol, network and simulated hardware.</summary>
internal sealed record SimSettings
{
    public int Nodes { get; init; } = 1000;

    public int Tiers { get; init; } = 2;

    /// <summary>Children per parent below tier 1 (one value), or per tier, tier 1 first (several values).</summary>
    public IReadOnlyList<int> Fanout { get; init; } = [];

    public int Seed { get; init; } = 1;

    public SyncProfile Profile { get; init; } = SyncProfile.Kraken;

    /// <summary>Hello interval; null takes the profile's (5 s, or 10 s for kraken-go).</summary>
    public TimeSpan? Hello { get; init; }

    /// <summary>Dead interval; null takes the profile's ratio (4 hellos).</summary>
    public TimeSpan? Dead { get; init; }

    /// <summary>How far loss may stretch the dead interval (SyncOptions.MaxDeadInterval); null: four times it.</summary>
    public TimeSpan? MaxDead { get; init; }

    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(1);

    public TimeSpan Jitter { get; init; }

    public double Loss { get; init; }

    public double Duplicate { get; init; }

    public double Reorder { get; init; }

    /// <summary>Longest extra delay of a reordered datagram (zero: one to two latencies).</summary>
    public TimeSpan ReorderDelay { get; init; }

    /// <summary>Time for a BMC to answer a power query.</summary>
    public SimDelay PowerQuery { get; init; } = SimDelay.Fixed(TimeSpan.FromMilliseconds(200));

    public SimDelay PowerOn { get; init; } = SimDelay.Uniform(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(8));

    public SimDelay PowerOff { get; init; } = SimDelay.Uniform(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4));

    /// <summary>Probability that a BMC never answers a call (the power module times out and retries; the step may fail to PHYS_HANG).</summary>
    public double PowerFailure { get; init; }

    /// <summary>Power calls one parent daemon has in flight at once (the power module's per-driver limit).</summary>
    public int PowerConcurrency { get; init; } = 64;

    /// <summary>How often a parent's power module polls the power state of its children; zero turns polling off.</summary>
    public TimeSpan PowerPoll { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Firmware: power on to the first DHCP DISCOVER (with <see cref="DhcpMode.Delay"/>, to the ACK).</summary>
    public SimDelay Pxe { get; init; } = SimDelay.Normal(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(4));

    /// <summary>Boot files: the DHCP ACK to kernel and initrd delivered by the parent (PXE INIT to COMP).</summary>
    public SimDelay Fetch { get; init; } = SimDelay.Normal(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1));

    /// <summary>Kernel and initramfs: boot files delivered to the node's daemon running and joining.</summary>
    public SimDelay Kernel { get; init; } = SimDelay.Normal(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(6));

    /// <summary>The PXE phase's DHCP exchange: through each parent's real DHCP server (default), or part of the PXE delay.</summary>
    public DhcpMode Dhcp { get; init; } = DhcpMode.Real;

    /// <summary>Nodes whose Cfg lists another MAC than their firmware sends (their parent's server does not know them).</summary>
    public IReadOnlySet<int>? WrongMac { get; init; }

    /// <summary>Simulated time after which a run gives up.</summary>
    public TimeSpan Limit { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Run on the wall clock instead of jumping from event to event.</summary>
    public bool Realtime { get; init; }

    public TimeSpan HelloInterval => Hello ?? (Profile == SyncProfile.KrakenGo ? TimeSpan.FromSeconds(10) : TimeSpan.FromSeconds(5));

    public TimeSpan DeadInterval => Dead ?? (HelloInterval * 4);

    public TimeSpan MaxDeadInterval => MaxDead ?? (DeadInterval * 4);

    public NetworkConditions Conditions => new()
    {
        Latency = Latency,
        Jitter = Jitter,
        Loss = Loss,
        Duplicate = Duplicate,
        Reorder = Reorder,
        ReorderDelay = ReorderDelay,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        Conditions.Validate();
        if (PowerFailure is < 0 or >= 1 || double.IsNaN(PowerFailure))
        {
            throw new ArgumentException($"--power-fail must be a probability in [0, 1) (was {PowerFailure}).");
        }

        if (HelloInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"--hello must be positive (was {Durations.Format(HelloInterval)}).");
        }

        if (DeadInterval <= HelloInterval)
        {
            throw new ArgumentException($"--dead ({Durations.Format(DeadInterval)}) must be longer than --hello ({Durations.Format(HelloInterval)}).");
        }

        if (MaxDeadInterval < DeadInterval)
        {
            throw new ArgumentException($"--max-dead ({Durations.Format(MaxDeadInterval)}) must be at least --dead ({Durations.Format(DeadInterval)}); equal turns the stretching off.");
        }

        if (Limit <= TimeSpan.Zero)
        {
            throw new ArgumentException("--limit must be positive.");
        }
    }
}
