// One driver call the power module runs for a mutation request, a poll or a bulk run, with its retries.
namespace Kraken.Modules.Power.Internal;

/// <summary>Who asked for an operation; decides what its result is written to.</summary>
internal enum OperationOwner : byte
{
    Mutation,
    Poll,
    Bulk,
}

/// <summary>
/// Mutable state of one operation, touched only on the module's executor (the driver's completion is posted
/// back there before anything reads it).
/// </summary>
internal sealed class PowerOperation(PowerTarget target, PowerAction action, OperationOwner owner, object? state, CancellationToken cancel)
{
    public PowerTarget Target { get; } = target;

    public PowerAction Action { get; } = action;

    public OperationOwner Owner { get; } = owner;

    /// <summary>The mutation request or bulk run this belongs to.</summary>
    public object? State { get; } = state;

    /// <summary>The request's interruption or the bulk run's cancellation.</summary>
    public CancellationToken Cancel { get; } = cancel;

    public TimeSpan CallTimeout { get; set; }

    public int Retries { get; set; }

    /// <summary>Calls made so far (1 after the first).</summary>
    public int Calls { get; set; }

    /// <summary>Position in a bulk run.</summary>
    public int Index { get; set; }

    public PowerStatus CallResult { get; set; }

    public Task<PowerStatus>? CallTask { get; set; }

    public ITimer? RetryTimer { get; set; }

    public PowerModule? Module { get; set; }

    public long Submitted { get; set; }

    public PowerStatus Status { get; set; }

    /// <summary>Null while running and after success.</summary>
    public PowerErrorKind? Error { get; set; }

    public string? Reason { get; set; }

    public bool Cancelled { get; set; }

    // Scheduling: set while the call is in flight.
    internal DriverSlot? Driver { get; set; }

    internal BmcSlot? Bmc { get; set; }

    internal CancellationTokenSource? CallCancel { get; set; }

    internal CancellationTokenRegistration CancelRegistration { get; set; }
}
