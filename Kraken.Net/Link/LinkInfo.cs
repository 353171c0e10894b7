// What the kernel reports about interfaces, their IPv4 addresses and IPv4 routes (rtnetlink dumps).
using System.Net;
using Kraken.Net.Link.Internal.Netlink;
using Kraken.Net.Packets;

namespace Kraken.Net.Link;

/// <summary>One network interface of the namespace the configurator was opened in.</summary>
/// <param name="Index">The kernel's interface index.</param>
/// <param name="Name">The interface name (<c>eth0</c>, <c>enp1s0</c>).</param>
/// <param name="Mac">The hardware address when it is a 48-bit one (Ethernet, veth, loopback's zeros); null otherwise.</param>
/// <param name="Flags">The <c>IFF_*</c> flags.</param>
/// <param name="Mtu">The MTU in bytes.</param>
/// <param name="Addresses">The IPv4 addresses, primary first, in the kernel's order.</param>
public sealed record LinkInfo(int Index, string Name, MacAddress? Mac, uint Flags, int Mtu, IReadOnlyList<Ipv4InterfaceAddress> Addresses)
{
    /// <summary>Administratively up (<c>IFF_UP</c>).</summary>
    public bool IsUp => (Flags & Rtnl.IffUp) != 0;

    /// <summary>The loopback device (<c>IFF_LOOPBACK</c>).</summary>
    public bool IsLoopback => (Flags & Rtnl.IffLoopback) != 0;

    /// <summary>The driver reports a carrier (<c>IFF_LOWER_UP</c>).</summary>
    public bool HasCarrier => (Flags & Rtnl.IffLowerUp) != 0;

    public override string ToString() =>
        $"{Name} (ifindex {Index}, {(Mac is { } mac ? mac.ToString() : "no MAC")}, mtu {Mtu}, {(IsUp ? "up" : "down")}{(Addresses.Count > 0 ? ", " + string.Join(' ', Addresses) : string.Empty)})";
}

/// <summary>An IPv4 address of an interface.</summary>
public sealed record Ipv4InterfaceAddress(IPAddress Address, int PrefixLength, IPAddress? Broadcast)
{
    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>An IPv4 route of the main table.</summary>
/// <param name="Destination">The destination network (0.0.0.0 for the default route).</param>
/// <param name="PrefixLength">The destination's prefix length (0 for the default route).</param>
/// <param name="Gateway">The next hop, or null for a directly connected network.</param>
/// <param name="InterfaceIndex">The output interface's index, 0 when the route names none.</param>
/// <param name="Metric">The route's priority (<c>metric</c> in iproute2); lower wins.</param>
/// <param name="Protocol">Who installed it (<c>RTPROT_*</c>: 2 kernel, 3 boot, 4 static).</param>
/// <param name="Type">The route type (<c>RTN_*</c>: 1 unicast).</param>
public sealed record Ipv4Route(IPAddress Destination, int PrefixLength, IPAddress? Gateway, int InterfaceIndex, int Metric, byte Protocol, byte Type)
{
    public bool IsDefault => PrefixLength == 0;

    public override string ToString() =>
        $"{(IsDefault ? "default" : $"{Destination}/{PrefixLength}")}{(Gateway is null ? string.Empty : $" via {Gateway}")} ifindex {InterfaceIndex}{(Metric != 0 ? $" metric {Metric}" : string.Empty)}";
}
