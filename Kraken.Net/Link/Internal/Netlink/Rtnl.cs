// Wire constants of netlink (linux/netlink.h) and rtnetlink (linux/rtnetlink.h, if_link.h, if_addr.h); every
// field is in host byte order except addresses, which are in network order as on any other wire.
namespace Kraken.Net.Link.Internal.Netlink;

internal static class Rtnl
{
    /// <summary><c>sizeof(struct nlmsghdr)</c>: u32 length, u16 type, u16 flags, u32 sequence, u32 port id.</summary>
    public const int HeaderLength = 16;

    /// <summary><c>sizeof(struct nlattr)</c> / <c>struct rtattr</c>: u16 length (header included), u16 type.</summary>
    public const int AttributeHeaderLength = 4;

    /// <summary><c>sizeof(struct ifinfomsg)</c>: u8 family, u8 pad, u16 type, s32 index, u32 flags, u32 change.</summary>
    public const int IfInfoLength = 16;

    /// <summary><c>sizeof(struct ifaddrmsg)</c>: u8 family, u8 prefix length, u8 flags, u8 scope, u32 index.</summary>
    public const int IfAddrLength = 8;

    /// <summary><c>sizeof(struct rtmsg)</c>: eight u8 (family, dst_len, src_len, tos, table, protocol, scope, type), u32 flags.</summary>
    public const int RtMsgLength = 12;

    /// <summary><c>struct nlmsgerr</c>: s32 error (0 = ack, else -errno), then the request's header (and body unless capped).</summary>
    public const int ErrorLength = 4 + HeaderLength;

    // Socket.
    public const int AfNetlink = 16;
    public const int SockRaw = 3;
    public const int SockCloexec = 0x80000;
    public const int NetlinkRoute = 0;
    public const int SolNetlink = 270;
    public const int NetlinkCapAck = 10;      // acks carry only the request's header, not its body
    public const int NetlinkExtAck = 11;      // acks may carry the kernel's error text (NLMSGERR_ATTR_MSG)

    // Control messages.
    public const ushort NlmsgNoop = 1;
    public const ushort NlmsgError = 2;
    public const ushort NlmsgDone = 3;
    public const ushort NlmsgOverrun = 4;

    // Header flags.
    public const ushort NlmFRequest = 0x1;
    public const ushort NlmFMulti = 0x2;
    public const ushort NlmFAck = 0x4;
    public const ushort NlmFDumpIntr = 0x10;   // the dump changed under us: its parts are inconsistent
    public const ushort NlmFDump = 0x300;      // NLM_F_ROOT | NLM_F_MATCH
    public const ushort NlmFExcl = 0x200;
    public const ushort NlmFCreate = 0x400;
    public const ushort NlmFCapped = 0x100;    // on NLMSG_ERROR: the request body is not echoed
    public const ushort NlmFAckTlvs = 0x200;   // on NLMSG_ERROR / NLMSG_DONE: extended-ack attributes follow

    public const ushort NlmsgerrAttrMsg = 1;

    // rtnetlink message types.
    public const ushort RtmNewLink = 16;
    public const ushort RtmGetLink = 18;
    public const ushort RtmNewAddr = 20;
    public const ushort RtmDelAddr = 21;
    public const ushort RtmGetAddr = 22;
    public const ushort RtmNewRoute = 24;
    public const ushort RtmDelRoute = 25;
    public const ushort RtmGetRoute = 26;

    // Address families.
    public const byte AfUnspec = 0;
    public const byte AfInet = 2;

    // Link attributes (IFLA_*) and flags (IFF_*).
    public const ushort IflaAddress = 1;
    public const ushort IflaIfname = 3;
    public const ushort IflaMtu = 4;
    public const ushort IflaExtMask = 29;
    public const uint RtextFilterSkipStats = 1 << 3;   // leave the counters out of dumps: a third of each message
    public const uint IffUp = 0x1;
    public const uint IffLoopback = 0x8;
    public const uint IffLowerUp = 0x10000;

    // Address attributes (IFA_*).
    public const ushort IfaAddress = 1;
    public const ushort IfaLocal = 2;
    public const ushort IfaBroadcast = 4;

    // Route message fields and attributes (RT_*, RTPROT_*, RTN_*, RTA_*).
    public const byte RtTableMain = 254;
    public const byte RtprotBoot = 3;          // what `ip route add` marks its routes with
    public const byte RtScopeUniverse = 0;
    public const byte RtScopeNowhere = 255;    // on delete: match any scope
    public const byte RtnUnicast = 1;
    public const ushort RtaDst = 1;
    public const ushort RtaOif = 4;
    public const ushort RtaGateway = 5;
    public const ushort RtaPriority = 6;
    public const ushort RtaTable = 15;

    /// <summary>Attribute types carry two flag bits (nested, network byte order) above the type proper.</summary>
    public const ushort AttributeTypeMask = 0x3fff;

    /// <summary>NLMSG_ALIGN and NLA_ALIGN: messages and attributes start on 4-byte boundaries.</summary>
    public static int Align(int length) => (length + 3) & ~3;
}
