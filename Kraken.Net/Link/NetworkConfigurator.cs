// Interface configuration over rtnetlink (no ip(8), no shell): list interfaces with their IPv4 addresses, find one by
// MAC or name, set it up, set its MTU, add or remove addresses and the default route. The boot path's entry is
// ConfigureAsync (NetworkConfigurator.Uplink.cs).
using System.Net;
using System.Net.Sockets;
using Kraken.Net.Link.Internal.Netlink;
using Kraken.Net.Packets;

namespace Kraken.Net.Link;

/// <summary>
/// Reads and changes the interfaces of one network namespace: the one of the thread that called
/// <see cref="Open(TimeProvider?, TimeSpan?)"/>, for the configurator's whole life, whichever thread uses it later.
/// Changes are idempotent (an address or route already present is reported as unchanged) and touch nothing
/// but what they name. One request runs at a time; each waits at most <see cref="Timeout"/> for the kernel.
/// Needs CAP_NET_ADMIN for changes; listing needs nothing.
/// </summary>
public sealed partial class NetworkConfigurator : IDisposable
{
    /// <summary>How long a request waits for the kernel's answer by default.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    private const int DumpAttempts = 5;

    private readonly NetlinkClient _client;

    internal NetworkConfigurator(INetlinkChannel channel, TimeProvider time, TimeSpan timeout)
    {
        _client = new NetlinkClient(channel, time, timeout);
    }

    public TimeSpan Timeout => _client.Timeout;

    /// <summary>Opens a NETLINK_ROUTE socket in the calling thread's network namespace.</summary>
    public static NetworkConfigurator Open(TimeProvider? time = null, TimeSpan? timeout = null)
    {
        var span = timeout ?? DefaultTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(span, TimeSpan.Zero, nameof(timeout));
        return new NetworkConfigurator(NetlinkSocket.Open(), time ?? TimeProvider.System, span);
    }

    /// <summary>Opens the configurator inside the named namespace (<c>/var/run/netns/NAME</c>); needs CAP_SYS_ADMIN.</summary>
    public static NetworkConfigurator Open(string networkNamespace, TimeProvider? time = null, TimeSpan? timeout = null) =>
        NetworkNamespace.Invoke(networkNamespace, () => Open(time, timeout));

    /// <summary>Every interface with its IPv4 addresses, by interface index.</summary>
    public async Task<IReadOnlyList<LinkInfo>> ListInterfacesAsync(CancellationToken cancellationToken = default)
    {
        var links = new List<LinkInfo>();
        await DumpAsync(RouteCodec.GetLinkDump, "list interfaces", links, (list, type, payload) =>
        {
            if (type == Rtnl.RtmNewLink)
            {
                list.Add(RouteCodec.ReadLink(payload));
            }
        }, cancellationToken).ConfigureAwait(false);

        var addresses = new List<(int Index, Ipv4InterfaceAddress Address)>();
        await DumpAsync(RouteCodec.GetAddressDump, "list addresses", addresses, (list, type, payload) =>
        {
            if (type == Rtnl.RtmNewAddr && RouteCodec.TryReadAddress(payload, out var index, out var address))
            {
                list.Add((index, address));
            }
        }, cancellationToken).ConfigureAwait(false);

        return [.. links
            .OrderBy(l => l.Index)
            .Select(l => l with { Addresses = [.. addresses.Where(a => a.Index == l.Index).Select(a => a.Address)] })];
    }

    /// <summary>The interface called <paramref name="name"/>, or null.</summary>
    public async Task<LinkInfo?> FindByNameAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var links = await ListInterfacesAsync(cancellationToken).ConfigureAwait(false);
        return links.FirstOrDefault(l => l.Name == name);
    }

    /// <summary>
    /// The interface with hardware address <paramref name="mac"/>, or null. Several interfaces with that address
    /// (a VLAN or bond on the NIC) are an error: which one is meant cannot be guessed.
    /// </summary>
    public async Task<LinkInfo?> FindByMacAsync(MacAddress mac, CancellationToken cancellationToken = default)
    {
        var links = await ListInterfacesAsync(cancellationToken).ConfigureAwait(false);
        return Single(links, mac);
    }

    /// <summary>The IPv4 routes of the main table.</summary>
    public async Task<IReadOnlyList<Ipv4Route>> ListRoutesAsync(CancellationToken cancellationToken = default)
    {
        var routes = new List<Ipv4Route>();
        await DumpAsync(RouteCodec.GetRouteDump, "list routes", routes, (list, type, payload) =>
        {
            if (type == Rtnl.RtmNewRoute && RouteCodec.TryReadMainRoute(payload, out var route))
            {
                list.Add(route);
            }
        }, cancellationToken).ConfigureAwait(false);
        return routes;
    }

    /// <summary>Sets <paramref name="link"/> administratively up; false when it already was (as of that snapshot).</summary>
    public async Task<bool> SetUpAsync(LinkInfo link, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        var index = link.Index;
        await RequireAsync(b => RouteCodec.SetLink(b, index, Rtnl.IffUp, Rtnl.IffUp, null), "set link up", link, cancellationToken).ConfigureAwait(false);
        return !link.IsUp;
    }

    /// <summary>Sets the MTU of <paramref name="link"/>; false when it already had it (as of that snapshot).</summary>
    public async Task<bool> SetMtuAsync(LinkInfo link, int mtu, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, 68);
        if (link.Mtu == mtu)
        {
            return false;
        }

        var index = link.Index;
        await RequireAsync(b => RouteCodec.SetLink(b, index, 0, 0, mtu), $"set MTU {mtu}", link, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Adds <paramref name="address"/>/<paramref name="prefixLength"/> to <paramref name="link"/> with its broadcast
    /// address (none for /31 and /32); false when exactly that address is already there.
    /// </summary>
    public async Task<bool> AddAddressAsync(LinkInfo link, IPAddress address, int prefixLength, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        var host = UnicastIpv4(address, nameof(address));
        CheckPrefix(prefixLength);
        var index = link.Index;
        uint? broadcast = prefixLength <= 30 ? host | ~Mask(prefixLength) : null;
        var operation = $"add address {address}/{prefixLength}";
        var reply = await _client.RequestAsync(b => RouteCodec.Address(b, add: true, index, host, prefixLength, broadcast), operation, link.Name, cancellationToken).ConfigureAwait(false);
        return reply.Errno switch
        {
            0 => true,
            Errno.EEXIST => false,
            _ => throw new NetlinkException(operation, link.Name, reply.Errno, reply.KernelMessage),
        };
    }

    /// <summary>Removes <paramref name="address"/>/<paramref name="prefixLength"/> from <paramref name="link"/>; false when it was not there.</summary>
    public async Task<bool> RemoveAddressAsync(LinkInfo link, IPAddress address, int prefixLength, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        var host = UnicastIpv4(address, nameof(address));
        CheckPrefix(prefixLength);
        var index = link.Index;
        var operation = $"remove address {address}/{prefixLength}";
        var reply = await _client.RequestAsync(b => RouteCodec.Address(b, add: false, index, host, prefixLength, null), operation, link.Name, cancellationToken).ConfigureAwait(false);
        return reply.Errno switch
        {
            0 => true,
            Errno.EADDRNOTAVAIL => false,
            _ => throw new NetlinkException(operation, link.Name, reply.Errno, reply.KernelMessage),
        };
    }

    /// <summary>
    /// Adds the main table's default route via <paramref name="gateway"/> out of <paramref name="link"/>; false when
    /// that route is already there. Another default route of the same metric is an error naming it; it is left alone.
    /// </summary>
    public async Task<bool> AddDefaultRouteAsync(LinkInfo link, IPAddress gateway, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        var host = UnicastIpv4(gateway, nameof(gateway));
        var index = link.Index;
        var operation = $"add default route via {gateway}";
        var reply = await _client.RequestAsync(b => RouteCodec.DefaultRoute(b, add: true, index, host), operation, link.Name, cancellationToken).ConfigureAwait(false);
        if (reply.Errno == 0)
        {
            return true;
        }

        if (reply.Errno != Errno.EEXIST)
        {
            throw new NetlinkException(operation, link.Name, reply.Errno, reply.KernelMessage);
        }

        var routes = await ListRoutesAsync(cancellationToken).ConfigureAwait(false);
        var defaults = routes.Where(r => r.IsDefault && r.Metric == 0).ToList();
        if (defaults.Any(r => gateway.Equals(r.Gateway) && r.InterfaceIndex == index))
        {
            return false;
        }

        throw new NetworkConfigurationException(operation, link.Name,
            $"{operation} on {link.Name}: EEXIST: the main table already has {(defaults.Count > 0 ? string.Join(", ", defaults) : "a default route")}");
    }

    /// <summary>Removes the main table's default route via <paramref name="gateway"/> out of <paramref name="link"/>; false when there was none.</summary>
    public async Task<bool> RemoveDefaultRouteAsync(LinkInfo link, IPAddress gateway, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        var host = UnicastIpv4(gateway, nameof(gateway));
        var index = link.Index;
        var operation = $"remove default route via {gateway}";
        var reply = await _client.RequestAsync(b => RouteCodec.DefaultRoute(b, add: false, index, host), operation, link.Name, cancellationToken).ConfigureAwait(false);
        return reply.Errno switch
        {
            0 => true,
            Errno.ESRCH => false,
            _ => throw new NetlinkException(operation, link.Name, reply.Errno, reply.KernelMessage),
        };
    }

    public void Dispose() => _client.Dispose();

    private static LinkInfo? Single(IReadOnlyList<LinkInfo> links, MacAddress mac)
    {
        var matches = links.Where(l => l.Mac == mac).ToList();
        return matches.Count switch
        {
            0 => null,
            1 => matches[0],
            _ => throw new NetworkConfigurationException("find interface", null,
                $"find interface: MAC {mac} is on {matches.Count} interfaces ({string.Join(", ", matches.Select(l => l.Name))}); name the interface instead"),
        };
    }

    private async Task RequireAsync(NetlinkRequestWriter write, string operation, LinkInfo link, CancellationToken cancellationToken)
    {
        var reply = await _client.RequestAsync(write, operation, link.Name, cancellationToken).ConfigureAwait(false);
        if (reply.Errno != 0)
        {
            throw new NetlinkException(operation, link.Name, reply.Errno, reply.KernelMessage);
        }
    }

    /// <summary>Runs a dump again when the kernel flags it as interrupted by a concurrent change.</summary>
    private async Task DumpAsync<T>(NetlinkRequestWriter write, string operation, List<T> results, Action<List<T>, ushort, ReadOnlySpan<byte>> read, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            results.Clear();
            var reply = await _client.DumpAsync(write, (type, payload) => read(results, type, payload), operation, cancellationToken).ConfigureAwait(false);
            if (reply.Errno != 0)
            {
                throw new NetlinkException(operation, null, reply.Errno, reply.KernelMessage);
            }

            if (!reply.Interrupted)
            {
                return;
            }

            if (attempt == DumpAttempts)
            {
                throw new NetworkConfigurationException(operation, null, $"{operation}: the kernel's tables kept changing during {DumpAttempts} dumps");
            }
        }
    }

    internal static uint UnicastIpv4(IPAddress address, string parameter)
    {
        ArgumentNullException.ThrowIfNull(address, parameter);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"'{address}' is not an IPv4 address", parameter);
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        var host = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if (host == 0 || host == uint.MaxValue || (host >> 28) == 0xE || (host >> 24) == 127)
        {
            throw new ArgumentException($"'{address}' is not a unicast IPv4 address", parameter);
        }

        return host;
    }

    internal static uint Mask(int prefixLength) => prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);

    private static void CheckPrefix(int prefixLength)
    {
        if (prefixLength is < 0 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, $"{prefixLength} is not a prefix length (0..32)");
        }
    }
}
