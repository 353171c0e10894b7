// Log events of the DHCP server, with stable ids. Per-packet events are Debug; the rest are rare.
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Pxe.Dhcp;

internal static partial class DhcpLog
{
    [LoggerMessage(1, LogLevel.Information, "DHCP server on {Interface} ({Mac}) serving as {Server}.")]
    public static partial void Started(ILogger logger, string @interface, string mac, string server);

    [LoggerMessage(2, LogLevel.Debug, "DHCP dropped a frame on {Interface}: {Reason}.")]
    public static partial void Dropped(ILogger logger, string @interface, DhcpDropReason reason);

    [LoggerMessage(3, LogLevel.Debug, "DHCP {Type} from {Mac}: no binding, ignored.")]
    public static partial void UnknownClient(ILogger logger, string type, string mac);

    [LoggerMessage(4, LogLevel.Debug, "DHCP {Reply} {Address} to {Mac} ({Node}) for {Type}.")]
    public static partial void Answered(ILogger logger, string reply, string address, string mac, Kraken.Tree.State.NodeId node, string type);

    [LoggerMessage(5, LogLevel.Warning, "DHCP DECLINE from {Mac} ({Node}): {Address} is in use by another host.")]
    public static partial void Declined(ILogger logger, string mac, Kraken.Tree.State.NodeId node, string address);

    [LoggerMessage(6, LogLevel.Information, "DHCP NAK to {Mac} ({Node}): asked for {Asked}, bound to {Bound}.")]
    public static partial void Nak(ILogger logger, string mac, Kraken.Tree.State.NodeId node, string asked, string bound);

    [LoggerMessage(7, LogLevel.Warning, "DHCP reply to {Mac} could not be sent on {Interface}.")]
    public static partial void SendFailed(ILogger logger, Exception exception, string mac, string @interface);

    [LoggerMessage(8, LogLevel.Error, "DHCP receive on {Interface} failed; the server stops.")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception, string @interface);

    [LoggerMessage(10, LogLevel.Warning, "DHCP dropped {Count} malformed frame(s) on {Interface}; the latest: {Reason}.")]
    public static partial void MalformedTraffic(ILogger logger, long count, string @interface, DhcpDropReason reason);

    [LoggerMessage(11, LogLevel.Error, "DHCP failed to handle a frame on {Interface}; it was dropped.")]
    public static partial void InternalError(ILogger logger, Exception exception, string @interface);

    [LoggerMessage(9, LogLevel.Warning, "DHCP observer threw.")]
    public static partial void ObserverThrew(ILogger logger, Exception exception);
}
