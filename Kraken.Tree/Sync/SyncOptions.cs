// Settings of one node's sync engine: identity, parents, secret, timers and the behaviour profile.
using System.Net;
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

/// <summary>How the engine propagates records.</summary>
public enum SyncProfile
{
    /// <summary>Small digest hellos, triggered deltas (acknowledged, retransmitted, damped), anti-entropy repair.</summary>
    Kraken,

    /// <summary>
    /// The original Kraken's behaviour, for side-by-side comparison: 10 s hello, 40 s dead, every hello carries
    /// the whole records, changes travel only with hellos.
    /// </summary>
    KrakenGo,
}

/// <summary>
/// Options of a <see cref="SyncEngine"/>. Start from <see cref="ForProfile"/> and change what differs with
/// <c>with</c>; <see cref="Validate"/> names the offending key.
/// </summary>
public sealed record SyncOptions
{
    /// <summary>This node.</summary>
    public required NodeId NodeId { get; init; }

    /// <summary>
    /// The cluster join secret (at least 16 bytes); every key is derived from it. Empty on a node booted with only a
    /// <see cref="BootstrapCredential"/>: it receives the secret, sealed, at its first join.
    /// </summary>
    public required byte[] JoinSecret { get; init; }

    /// <summary>
    /// This node's bootstrap credential (docs/protocol.md 5.2): what its parent gave this boot, used for the first
    /// join in place of the join secret, and consumed by it. Null on a node configured with the join secret.
    /// </summary>
    public byte[]? BootstrapCredential { get; init; }

    /// <summary>The credentials this node issued to the children it boots; joins with one are checked against it.</summary>
    public BootstrapCredentials? Bootstrap { get; init; }

    /// <summary>
    /// The named secrets (BMC credentials) a child that joined with a bootstrap credential gets, sealed in its
    /// JoinAccept with the join secret: called with the child and its subtree. Null: the join secret only.
    /// </summary>
    public Func<NodeId, IReadOnlyCollection<NodeId>, IReadOnlyDictionary<string, string>>? SecretsFor { get; init; }

    /// <summary>
    /// State URLs a parent knows of its children better than they know of themselves: what its Child-context modules
    /// discover (power from the BMC, PXE from its boot services). A direct child's report never overwrites them here
    /// (nor <c>/RunState</c> and <c>/ParentId</c>, the adjacency's own view, which never come from the child).
    /// </summary>
    public IReadOnlyList<string> ParentView { get; init; } = [];

    /// <summary>The cluster control state a root starts with (its persisted freeze); ignored at a child, which takes its parent's.</summary>
    public ClusterControl InitialControl { get; init; }

    public SyncProfile Profile { get; init; } = SyncProfile.Kraken;

    /// <summary>Where to join: the primary parent first, then backups. Empty for the root.</summary>
    public IReadOnlyList<EndPoint> Parents { get; init; } = [];

    /// <summary>How often a hello goes to each neighbour, on average (each tick jittered by up to ±<see cref="HelloJitter"/>/2).</summary>
    public TimeSpan HelloInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Silence after which a neighbour is Dead (checked at each hello tick), on a link that loses nothing.</summary>
    public TimeSpan DeadInterval { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How far a lossy link stretches its dead interval: each adjacency measures the loss of its peer's datagrams and
    /// waits for as many hellos as are all lost with odds of at most <see cref="FalseDeathOdds"/>, up to this. Null:
    /// four times <see cref="DeadInterval"/>; equal to it turns the stretching off.
    /// </summary>
    public TimeSpan? MaxDeadInterval { get; init; }

    /// <summary>
    /// Frames an adjacency measures its link over before it trusts the measure: until then its loss estimate is
    /// cautious and its dead interval stretched (protocol.md section 10). About this many hellos after a join.
    /// </summary>
    public const int LossWarmUpFrames = 32;

    /// <summary>The odds, per hello interval, that a live peer on a lossy link is taken for dead (one in ten million).</summary>
    public const double FalseDeathOdds = 1e-7;

    /// <summary><see cref="MaxDeadInterval"/>, or its default.</summary>
    public TimeSpan EffectiveMaxDeadInterval => MaxDeadInterval ?? DeadInterval * 4;

    /// <summary>First retransmission delay of an unacknowledged delta; it doubles up to the hello interval.</summary>
    public TimeSpan RetransmitInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Hold time after a record was sent again soon after a previous send; doubles while it keeps changing.</summary>
    public TimeSpan DampingInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest hold of a flapping record; a record quiet this long is sent at once again.</summary>
    public TimeSpan DampingMaximum { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Period of the full refresh that resends every record (anti-entropy of last resort).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a join may take before the attempt is abandoned.</summary>
    public TimeSpan JoinTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay between failed join attempts; it doubles up to <see cref="JoinBackoffMaximum"/>.</summary>
    public TimeSpan JoinBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan JoinBackoffMaximum { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often a node joined to a backup parent tries its primary again; zero never does. Back with its primary, the
    /// node is again where its Cfg puts it, with the parent that powers and boots it (a primary that restarted would
    /// otherwise know nothing of it and, after its boot timeouts, power cycle it).
    /// </summary>
    public TimeSpan FailbackInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Width of the random jitter of each hello tick, as a fraction of the hello interval, centred on it (0.1:
    /// each tick 95-105 % of the interval after the previous one), so neighbours do not send in lockstep while
    /// the mean stays exactly one hello per interval.
    /// </summary>
    public double HelloJitter { get; init; } = 0.1;

    /// <summary>Largest payload accepted; checked against the header before anything is allocated.</summary>
    public int MaxMessageSize { get; init; } = 32 << 20;

    /// <summary>Seed of the jitter generator; by default derived from the node id, so runs are reproducible.</summary>
    public int? Seed { get; init; }

    /// <summary>Defaults for <paramref name="profile"/>.</summary>
    public static SyncOptions ForProfile(SyncProfile profile, NodeId nodeId, byte[] joinSecret) => profile switch
    {
        SyncProfile.KrakenGo => new SyncOptions
        {
            NodeId = nodeId,
            JoinSecret = joinSecret,
            Profile = SyncProfile.KrakenGo,
            HelloInterval = TimeSpan.FromSeconds(10),
            DeadInterval = TimeSpan.FromSeconds(40),
            HelloJitter = 0,
        },
        _ => new SyncOptions { NodeId = nodeId, JoinSecret = joinSecret },
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (NodeId.IsNil)
        {
            throw Invalid(nameof(NodeId), "must not be the nil id");
        }

        if (JoinSecret is null || (JoinSecret.Length < 16 && !(JoinSecret.Length == 0 && BootstrapCredential is not null)))
        {
            throw Invalid(nameof(JoinSecret), $"must be at least 16 bytes, got {JoinSecret?.Length ?? 0} (it may be empty only with a bootstrap credential)");
        }

        if (BootstrapCredential is { Length: < 16 })
        {
            throw Invalid(nameof(BootstrapCredential), $"must be at least 16 bytes, got {BootstrapCredential.Length}");
        }

        if (BootstrapCredential is not null && Parents.Count == 0)
        {
            throw Invalid(nameof(BootstrapCredential), "is for a first join: a node with a bootstrap credential needs a parent");
        }

        Positive(HelloInterval, nameof(HelloInterval));
        Positive(RetransmitInterval, nameof(RetransmitInterval));
        Positive(JoinTimeout, nameof(JoinTimeout));
        Positive(JoinBackoff, nameof(JoinBackoff));
        Positive(RefreshInterval, nameof(RefreshInterval));
        if (DeadInterval <= HelloInterval)
        {
            throw Invalid(nameof(DeadInterval), $"({DeadInterval}) must be longer than HelloInterval ({HelloInterval})");
        }

        if (MaxDeadInterval is { } maxDead && maxDead < DeadInterval)
        {
            throw Invalid(nameof(MaxDeadInterval), $"({maxDead}) must be at least DeadInterval ({DeadInterval}); equal to it turns the stretching off");
        }

        if (DampingInterval < TimeSpan.Zero || DampingMaximum < DampingInterval)
        {
            throw Invalid(nameof(DampingMaximum), $"({DampingMaximum}) must be at least DampingInterval ({DampingInterval}), which must not be negative");
        }

        if (FailbackInterval < TimeSpan.Zero)
        {
            throw Invalid(nameof(FailbackInterval), $"({FailbackInterval}) must not be negative (zero turns fail-back off)");
        }

        if (JoinBackoffMaximum < JoinBackoff)
        {
            throw Invalid(nameof(JoinBackoffMaximum), $"({JoinBackoffMaximum}) must be at least JoinBackoff ({JoinBackoff})");
        }

        if (HelloJitter is < 0 or >= 1 || double.IsNaN(HelloJitter))
        {
            throw Invalid(nameof(HelloJitter), $"({HelloJitter}) must be in [0, 1)");
        }

        if (MaxMessageSize < 4096)
        {
            throw Invalid(nameof(MaxMessageSize), $"({MaxMessageSize}) must be at least 4096 bytes");
        }

        if (Parents is null || Parents.Any(p => p is null))
        {
            throw Invalid(nameof(Parents), "must not be null or hold null addresses");
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw Invalid(name, $"({value}) must be positive");
        }
    }

    private static ArgumentException Invalid(string key, string message) => new($"Sync:{key} {message}.", key);
}
