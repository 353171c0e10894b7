// A peer named by host name, resolved by the socket transport each time it connects to it.
using System.Net;
using System.Net.Sockets;

namespace Kraken.Net.Transport;

/// <summary>
/// A host name and port (<c>parent.example:31415</c>). <see cref="SocketTransport"/> resolves it through DNS
/// (<see cref="Dns"/>) on every <see cref="SocketTransport.Connect"/>, so a join, each fail-over and each re-join see
/// the name's current address; what the stream reached is its connection's <see cref="IFrameConnection.RemoteEndPoint"/>.
/// </summary>
public sealed class HostEndPoint(string host, int port) : DnsEndPoint(host, port, AddressFamily.Unspecified)
{
    /// <summary>
    /// Parses <c>address:port</c> (an <see cref="IPEndPoint"/>, IPv6 in brackets) or <c>host:port</c> (a
    /// <see cref="HostEndPoint"/>); without a port, <paramref name="defaultPort"/> when it is positive.
    /// </summary>
    public static bool TryParse(string? text, int defaultPort, out EndPoint? endPoint)
    {
        endPoint = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var colon = text.LastIndexOf(':');
        var closing = text.LastIndexOf(']');
        var hasPort = colon > closing && (closing >= 0 || text.IndexOf(':', StringComparison.Ordinal) == colon);
        if (hasPort && IPEndPoint.TryParse(text, out var ip))
        {
            endPoint = ip;
            return true;
        }

        if (!hasPort && defaultPort > 0 && IPAddress.TryParse(text.Trim('[', ']'), out var address))
        {
            endPoint = new IPEndPoint(address, defaultPort);
            return true;
        }

        var host = hasPort ? text[..colon] : text;
        var port = defaultPort;
        if (hasPort && !int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port))
        {
            return false;
        }

        if (port is < 1 or > IPEndPoint.MaxPort || Uri.CheckHostName(host) != UriHostNameType.Dns)
        {
            return false;
        }

        endPoint = new HostEndPoint(host, port);
        return true;
    }

    public override string ToString() => $"{Host}:{Port}";
}
