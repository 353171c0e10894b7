// The result of a bulk power operation, as the daemon's API and CLI show it.
using Kraken.Tree.State;

namespace Kraken.Modules.Power;

/// <summary>How one node's part of a bulk operation ended.</summary>
public enum BulkOutcome : byte
{
    Ok,
    Failed,
    TimedOut,
}

/// <summary>One node's result. <see cref="Reason"/> says what went wrong and never holds a secret.</summary>
public sealed record BulkNodeResult(NodeId Node, string Name, BulkOutcome Outcome)
{
    /// <summary>The power state after the call (Unknown when it failed).</summary>
    public PowerStatus Status { get; init; }

    /// <summary>Why it failed or timed out; null when ok.</summary>
    public string? Reason { get; init; }

    /// <summary>The kind of the last error; null when ok.</summary>
    public PowerErrorKind? Error { get; init; }

    /// <summary>Driver calls made (1 without retries).</summary>
    public int Calls { get; init; }

    /// <summary>From submission to the result, queueing and retries included.</summary>
    public TimeSpan Duration { get; init; }
}

/// <summary>
/// The summary of <see cref="PowerModule.RunBulkAsync(IEnumerable{NodeId}, PowerAction, BulkPowerOptions?, CancellationToken)"/>:
/// counts by outcome and one result per node, in the order the nodes were given.
/// </summary>
public sealed class BulkPowerSummary
{
    internal BulkPowerSummary(PowerAction action, IReadOnlyList<BulkNodeResult> results, TimeSpan elapsed)
    {
        Action = action;
        Results = results;
        Elapsed = elapsed;
        foreach (var r in results)
        {
            switch (r.Outcome)
            {
                case BulkOutcome.Ok: Ok++; break;
                case BulkOutcome.Failed: Failed++; break;
                default: TimedOut++; break;
            }
        }
    }

    public PowerAction Action { get; }

    public int Requested => Results.Count;

    public int Ok { get; }

    public int Failed { get; }

    public int TimedOut { get; }

    /// <summary>Wall time (on the module's clock) from the start of the run to its last result.</summary>
    public TimeSpan Elapsed { get; }

    public IReadOnlyList<BulkNodeResult> Results { get; }

    /// <summary>Failed and timed-out nodes grouped by reason, most frequent first: what an operator reads first.</summary>
    public IReadOnlyList<(string Reason, int Count)> FailureReasons() =>
    [
        .. Results.Where(r => r.Outcome != BulkOutcome.Ok)
            .GroupBy(r => r.Reason ?? r.Outcome.ToString(), StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count()))
            .OrderByDescending(g => g.Item2)
            .ThenBy(g => g.Key, StringComparer.Ordinal),
    ];

    public override string ToString() => $"{Action}: {Requested} node(s), {Ok} ok, {Failed} failed, {TimedOut} timed out in {Elapsed}";
}
