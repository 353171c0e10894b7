// Log events of the reconcile engine, with stable ids.
using Kraken.Tree.State;
using Microsoft.Extensions.Logging;

namespace Kraken.Tree.Reconcile;

internal static partial class ReconcileLog
{
    [LoggerMessage(1, LogLevel.Information, "Reconcile engine frozen: dispatch stopped, {Interrupted} requests interrupted.")]
    public static partial void Frozen(ILogger logger, int interrupted);

    [LoggerMessage(2, LogLevel.Information, "Reconcile engine thawed: re-planning {Nodes} nodes.")]
    public static partial void Thawed(ILogger logger, int nodes);

    [LoggerMessage(3, LogLevel.Debug, "Node {Node}: no path. {Reason}")]
    public static partial void Unreachable(ILogger logger, NodeId node, string? reason);

    [LoggerMessage(4, LogLevel.Warning, "Node {Node}: {Failure} (attempt {Attempt}).")]
    public static partial void StepFailed(ILogger logger, NodeId node, string failure, int attempt);

    [LoggerMessage(5, LogLevel.Warning, "Node {Node}: giving up after {Attempts} failed steps; last: {Failure}.")]
    public static partial void GaveUp(ILogger logger, NodeId node, int attempts, string failure);

    [LoggerMessage(6, LogLevel.Error, "Module {Module} threw while receiving {Mutation} for node {Node}.")]
    public static partial void ModuleThrew(ILogger logger, Exception exception, string module, string mutation, NodeId node);

    [LoggerMessage(7, LogLevel.Trace, "Node {Node}: dispatched {Mutation} to {Module}.")]
    public static partial void Dispatched(ILogger logger, NodeId node, string mutation, string module);

    [LoggerMessage(8, LogLevel.Debug, "Node {Node}: re-planned from {Start}: {Plan}.")]
    public static partial void Replanned(ILogger logger, NodeId node, string start, MutationPlan plan);

    [LoggerMessage(9, LogLevel.Warning, "An interrupt callback for node {Node} threw.")]
    public static partial void InterruptCallbackFailed(ILogger logger, Exception exception, NodeId node);

    [LoggerMessage(10, LogLevel.Warning, "Node {Node}: could not write {Url} to Dsc: {Error}")]
    public static partial void DscWriteFailed(ILogger logger, NodeId node, string url, string error);

    [LoggerMessage(11, LogLevel.Information, "Node {Node}: may be alive and about to report; left alone for {Remaining} (restart grace)")]
    public static partial void Holding(ILogger logger, NodeId node, TimeSpan remaining);
}
