// rtnetlink bodies: the requests the configurator sends (link, address and route changes, dumps) and the parsing of
// the link, address and route messages the kernel answers with.
using System.Net;
using System.Runtime.InteropServices;
using Kraken.Net.Packets;

namespace Kraken.Net.Link.Internal.Netlink;

internal static class RouteCodec
{
    /// <summary>Room for the largest request written here.</summary>
    public const int MaxRequestLength = 128;

    private const int IfNameMax = 15;   // IFNAMSIZ less the NUL

    public static int GetLinkDump(Span<byte> buffer)
    {
        var writer = new NetlinkWriter(buffer, Rtnl.RtmGetLink, Rtnl.NlmFRequest | Rtnl.NlmFDump);
        writer.Body(Rtnl.IfInfoLength);
        writer.AttributeU32(Rtnl.IflaExtMask, Rtnl.RtextFilterSkipStats);
        return writer.Finish();
    }

    public static int GetAddressDump(Span<byte> buffer)
    {
        var writer = new NetlinkWriter(buffer, Rtnl.RtmGetAddr, Rtnl.NlmFRequest | Rtnl.NlmFDump);
        writer.Body(Rtnl.IfAddrLength)[0] = Rtnl.AfInet;
        return writer.Finish();
    }

    public static int GetRouteDump(Span<byte> buffer)
    {
        var writer = new NetlinkWriter(buffer, Rtnl.RtmGetRoute, Rtnl.NlmFRequest | Rtnl.NlmFDump);
        writer.Body(Rtnl.RtMsgLength)[0] = Rtnl.AfInet;
        return writer.Finish();
    }

    /// <summary>RTM_NEWLINK on an existing interface: sets the flags in <paramref name="change"/> to those in <paramref name="flags"/>, and the MTU if given.</summary>
    public static int SetLink(Span<byte> buffer, int index, uint flags, uint change, int? mtu)
    {
        var writer = new NetlinkWriter(buffer, Rtnl.RtmNewLink, Rtnl.NlmFRequest | Rtnl.NlmFAck);
        var body = writer.Body(Rtnl.IfInfoLength);
        body[0] = Rtnl.AfUnspec;
        MemoryMarshal.Write(body[4..], in index);
        MemoryMarshal.Write(body[8..], in flags);
        MemoryMarshal.Write(body[12..], in change);
        if (mtu is { } m)
        {
            writer.AttributeU32(Rtnl.IflaMtu, (uint)m);
        }

        return writer.Finish();
    }

    /// <summary>RTM_NEWADDR (exclusive: an existing identical address answers EEXIST) or RTM_DELADDR for one IPv4 address.</summary>
    public static int Address(Span<byte> buffer, bool add, int index, uint address, int prefixLength, uint? broadcast)
    {
        var flags = add ? (ushort)(Rtnl.NlmFRequest | Rtnl.NlmFAck | Rtnl.NlmFCreate | Rtnl.NlmFExcl) : (ushort)(Rtnl.NlmFRequest | Rtnl.NlmFAck);
        var writer = new NetlinkWriter(buffer, add ? Rtnl.RtmNewAddr : Rtnl.RtmDelAddr, flags);
        var body = writer.Body(Rtnl.IfAddrLength);
        body[0] = Rtnl.AfInet;
        body[1] = (byte)prefixLength;
        body[3] = Rtnl.RtScopeUniverse;
        MemoryMarshal.Write(body[4..], in index);
        writer.AttributeIpv4(Rtnl.IfaLocal, address);
        writer.AttributeIpv4(Rtnl.IfaAddress, address);
        if (broadcast is { } b)
        {
            writer.AttributeIpv4(Rtnl.IfaBroadcast, b);
        }

        return writer.Finish();
    }

    /// <summary>RTM_NEWROUTE (exclusive) or RTM_DELROUTE for the main table's default route via <paramref name="gateway"/>.</summary>
    public static int DefaultRoute(Span<byte> buffer, bool add, int index, uint gateway)
    {
        var flags = add ? (ushort)(Rtnl.NlmFRequest | Rtnl.NlmFAck | Rtnl.NlmFCreate | Rtnl.NlmFExcl) : (ushort)(Rtnl.NlmFRequest | Rtnl.NlmFAck);
        var writer = new NetlinkWriter(buffer, add ? Rtnl.RtmNewRoute : Rtnl.RtmDelRoute, flags);
        var body = writer.Body(Rtnl.RtMsgLength);
        body[0] = Rtnl.AfInet;
        body[4] = Rtnl.RtTableMain;
        body[5] = add ? Rtnl.RtprotBoot : (byte)0;            // 0 on delete: any protocol
        body[6] = add ? Rtnl.RtScopeUniverse : Rtnl.RtScopeNowhere;
        body[7] = Rtnl.RtnUnicast;
        writer.AttributeIpv4(Rtnl.RtaGateway, gateway);
        writer.AttributeU32(Rtnl.RtaOif, (uint)index);
        return writer.Finish();
    }

    /// <summary>An RTM_NEWLINK message's body; its address list is left empty.</summary>
    public static LinkInfo ReadLink(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < Rtnl.IfInfoLength)
        {
            NetlinkProtocolException.Throw($"link message of {payload.Length} bytes, shorter than ifinfomsg");
        }

        var index = MemoryMarshal.Read<int>(payload[4..]);
        var flags = MemoryMarshal.Read<uint>(payload[8..]);
        string? name = null;
        MacAddress? mac = null;
        var mtu = 0;
        var attributes = new NetlinkAttributeReader(payload[Rtnl.IfInfoLength..]);
        while (attributes.TryRead(out var type, out var value))
        {
            switch (type)
            {
                case Rtnl.IflaIfname:
                    name = NetlinkValue.String(value, IfNameMax, "IFLA_IFNAME");
                    break;
                case Rtnl.IflaAddress:
                    mac = value.Length == MacAddress.Length ? MacAddress.Read(value) : null;
                    break;
                case Rtnl.IflaMtu:
                    mtu = (int)NetlinkValue.U32(value, "IFLA_MTU");
                    break;
            }
        }

        if (name is null)
        {
            NetlinkProtocolException.Throw($"link message for ifindex {index} without IFLA_IFNAME");
        }

        return new LinkInfo(index, name, mac, flags, mtu, []);
    }

    /// <summary>An RTM_NEWADDR message's body; false for another family than IPv4.</summary>
    public static bool TryReadAddress(ReadOnlySpan<byte> payload, out int index, out Ipv4InterfaceAddress address)
    {
        index = 0;
        address = null!;
        if (payload.Length < Rtnl.IfAddrLength)
        {
            NetlinkProtocolException.Throw($"address message of {payload.Length} bytes, shorter than ifaddrmsg");
        }

        if (payload[0] != Rtnl.AfInet)
        {
            return false;
        }

        var prefixLength = payload[1];
        if (prefixLength > 32)
        {
            NetlinkProtocolException.Throw($"IPv4 address with prefix length {prefixLength}");
        }

        index = MemoryMarshal.Read<int>(payload[4..]);
        uint? local = null, peer = null, broadcast = null;
        var attributes = new NetlinkAttributeReader(payload[Rtnl.IfAddrLength..]);
        while (attributes.TryRead(out var type, out var value))
        {
            switch (type)
            {
                case Rtnl.IfaLocal:
                    local = NetlinkValue.Ipv4(value, "IFA_LOCAL");
                    break;
                case Rtnl.IfaAddress:
                    peer = NetlinkValue.Ipv4(value, "IFA_ADDRESS");
                    break;
                case Rtnl.IfaBroadcast:
                    broadcast = NetlinkValue.Ipv4(value, "IFA_BROADCAST");
                    break;
            }
        }

        // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from it only on point-to-point links.
        var own = local ?? peer;
        if (own is null)
        {
            NetlinkProtocolException.Throw($"IPv4 address message for ifindex {index} without IFA_LOCAL or IFA_ADDRESS");
        }

        address = new Ipv4InterfaceAddress(ToAddress(own.Value), prefixLength, broadcast is { } b ? ToAddress(b) : null);
        return true;
    }

    /// <summary>An RTM_NEWROUTE message's body; false for another family than IPv4 or another table than main.</summary>
    public static bool TryReadMainRoute(ReadOnlySpan<byte> payload, out Ipv4Route route)
    {
        route = null!;
        if (payload.Length < Rtnl.RtMsgLength)
        {
            NetlinkProtocolException.Throw($"route message of {payload.Length} bytes, shorter than rtmsg");
        }

        var destinationLength = payload[1];
        if (payload[0] != Rtnl.AfInet)
        {
            return false;
        }

        if (destinationLength > 32)
        {
            NetlinkProtocolException.Throw($"IPv4 route with prefix length {destinationLength}");
        }

        uint table = payload[4];
        var protocol = payload[5];
        var routeType = payload[7];
        uint destination = 0, oif = 0, metric = 0;
        uint? gateway = null;
        var attributes = new NetlinkAttributeReader(payload[Rtnl.RtMsgLength..]);
        while (attributes.TryRead(out var type, out var value))
        {
            switch (type)
            {
                case Rtnl.RtaDst:
                    destination = NetlinkValue.Ipv4(value, "RTA_DST");
                    break;
                case Rtnl.RtaGateway:
                    gateway = NetlinkValue.Ipv4(value, "RTA_GATEWAY");
                    break;
                case Rtnl.RtaOif:
                    oif = NetlinkValue.U32(value, "RTA_OIF");
                    break;
                case Rtnl.RtaPriority:
                    metric = NetlinkValue.U32(value, "RTA_PRIORITY");
                    break;
                case Rtnl.RtaTable:
                    table = NetlinkValue.U32(value, "RTA_TABLE");    // tables above 255 are only named here
                    break;
            }
        }

        if (table != Rtnl.RtTableMain)
        {
            return false;
        }

        route = new Ipv4Route(ToAddress(destination), destinationLength, gateway is { } g ? ToAddress(g) : null, (int)oif, (int)metric, protocol, routeType);
        return true;
    }

    public static IPAddress ToAddress(uint hostOrder) => new(new[] { (byte)(hostOrder >> 24), (byte)(hostOrder >> 16), (byte)(hostOrder >> 8), (byte)hostOrder });
}
