// The vocabulary every power driver shares: actions, observed states, targets and errors.
using Kraken.Tree.State;

namespace Kraken.Modules.Power;

/// <summary>What a driver is asked to do.</summary>
public enum PowerAction : byte
{
    /// <summary>Read the power state; changes nothing.</summary>
    Status,

    /// <summary>Power up.</summary>
    On,

    /// <summary>Power down at once (no operating system shutdown).</summary>
    Off,

    /// <summary>Ask the operating system to shut down (ACPI); the node may still be on when this returns.</summary>
    SoftOff,

    /// <summary>Power down, then up; a node that is off is simply powered up.</summary>
    Cycle,

    /// <summary>Hard reset; a node that is off is simply powered up.</summary>
    Reset,
}

/// <summary>The power state a driver observed or put the node in.</summary>
public enum PowerStatus : byte
{
    Unknown,
    Off,
    On,
}

/// <summary>Why a power operation failed.</summary>
public enum PowerErrorKind : byte
{
    /// <summary>The node's power settings are missing or invalid, or no driver has that name.</summary>
    Configuration,

    /// <summary>The BMC refused the user name or password (or the credential could not be found).</summary>
    Authentication,

    /// <summary>No answer within the call's timeout.</summary>
    Timeout,

    /// <summary>The BMC or VM cannot be reached (connection refused, no route, socket missing).</summary>
    Unreachable,

    /// <summary>The reply was malformed, truncated, oversized or unexpected.</summary>
    Protocol,

    /// <summary>The BMC understood and refused the command (an IPMI completion code, an HTTP error).</summary>
    Refused,
}

/// <summary>A power operation failed; <see cref="Kind"/> says how, the message says what, never with a secret in it.</summary>
public sealed class PowerException : Exception
{
    public PowerException(PowerErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public PowerException()
        : this(PowerErrorKind.Protocol, "Power operation failed.")
    {
    }

    public PowerException(string message)
        : this(PowerErrorKind.Protocol, message)
    {
    }

    public PowerException(string message, Exception inner)
        : this(PowerErrorKind.Protocol, message, inner)
    {
    }

    public PowerErrorKind Kind { get; }

    /// <summary>Failures worth another try: the BMC may answer next time. Wrong settings or passwords will not improve.</summary>
    public bool IsTransient => IsTransientKind(Kind);

    public static bool IsTransientKind(PowerErrorKind kind) => kind is PowerErrorKind.Timeout or PowerErrorKind.Unreachable or PowerErrorKind.Protocol;
}

/// <summary>
/// Where and how to reach one node's power control: the Power extension of its Cfg. Holds the credential
/// <em>reference</em> only; drivers resolve the secret through an <see cref="ICredentialProvider"/> when they
/// need it. <see cref="ToString"/> leaves the reference out, so targets can be logged.
/// </summary>
public sealed record PowerTarget(NodeId Node, string Driver, string Address)
{
    /// <summary>The node's name, for messages; null when Cfg has none.</summary>
    public string? Nodename { get; init; }

    /// <summary>0 means the driver's default port (623 for IPMI, 443 or 80 for Redfish).</summary>
    public int Port { get; init; }

    public string? User { get; init; }

    /// <summary>The name of a credential held by the daemon (never the secret itself).</summary>
    public string? Credential { get; init; }

    /// <summary>Driver-specific system name: Redfish system id, VM name.</summary>
    public string? System { get; init; }

    /// <summary>What per-BMC limits count against: one BMC (or VM, or socket) per address and port.</summary>
    public string BmcKey => Address.Length == 0 ? Node.ToString() : Port == 0 ? Address : $"{Address}:{Port}";

    /// <summary>Reads the target from a node's Cfg; null when the node has no <c>/Extensions/Power/Driver</c>.</summary>
    public static PowerTarget? FromRecord(NodeRecord cfg)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        var power = cfg.GetExtension<Kraken.Tree.State.Proto.Power>(StandardExtensions.Power);
        if (power is null || !power.HasDriver || power.Driver.Length == 0)
        {
            return null;
        }

        return new PowerTarget(cfg.Id, power.Driver, power.HasAddress ? power.Address : string.Empty)
        {
            Nodename = cfg.Nodename,
            Port = power.HasPort ? (int)power.Port : 0,
            User = power.HasUser ? power.User : null,
            Credential = power.HasCredential ? power.Credential : null,
            System = power.HasSystem ? power.System : null,
        };
    }

    /// <summary>The node as messages name it: its name when it has one, else its id.</summary>
    public string Name => Nodename ?? Node.ToString();

    public override string ToString() => $"{Name} ({Driver} {BmcKey})";
}

/// <summary>
/// A power driver: one protocol (IPMI, Redfish, qemu, simulated). Drivers are called from the power module
/// on its executor and must return at once (do I/O asynchronously). A driver may be called concurrently for
/// different targets; the module never runs more than the configured number of calls per BMC at once.
/// </summary>
public interface IPowerDriver
{
    /// <summary>The name nodes select in <c>/Extensions/Power/Driver</c> (<c>ipmi</c>, <c>redfish</c>, <c>qemu</c>, <c>sim</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Performs <paramref name="action"/> and returns the power state the node is now known to be in (for
    /// <see cref="PowerAction.Status"/>, the state read). Throws <see cref="PowerException"/> on failure and
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> is cancelled (the
    /// module's per-call timeout or an abandoned request).
    /// </summary>
    ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken);
}
