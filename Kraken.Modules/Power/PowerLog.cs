// Log events of the power module, with stable ids. Targets print without credentials.
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Power;

internal static partial class PowerLog
{
    [LoggerMessage(1, LogLevel.Warning, "Power {Action} on {Target} failed after {Calls} call(s): {Reason}")]
    public static partial void OperationFailed(ILogger logger, PowerAction action, PowerTarget target, int calls, string reason);

    [LoggerMessage(2, LogLevel.Debug, "Power {Action} on {Target}: retry {Call} after {Reason}")]
    public static partial void Retrying(ILogger logger, PowerAction action, PowerTarget target, int call, string reason);

    [LoggerMessage(3, LogLevel.Information, "Bulk power {Action} on {Nodes} node(s): {Ok} ok, {Failed} failed, {TimedOut} timed out in {Elapsed}.")]
    public static partial void BulkDone(ILogger logger, PowerAction action, int nodes, int ok, int failed, int timedOut, TimeSpan elapsed);

    [LoggerMessage(4, LogLevel.Error, "Power driver {Driver} threw outside its contract on {Target}.")]
    public static partial void DriverThrew(ILogger logger, Exception exception, string driver, PowerTarget target);

    [LoggerMessage(5, LogLevel.Warning, "Power poll could not write Dsc for node {Node}: {Reason}")]
    public static partial void DiscoverFailed(ILogger logger, Kraken.Tree.State.NodeId node, string reason);
}
