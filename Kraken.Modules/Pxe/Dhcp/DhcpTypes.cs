// Public shapes of the DHCPv4 server: bindings (who gets which address) and what the server observed.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Tree.State;

namespace Kraken.Modules.Pxe.Dhcp;

/// <summary>The static address a node's interface gets.</summary>
public sealed record DhcpBinding(NodeId Node, IPAddress Address, int PrefixLength, IPAddress? Gateway, string? Hostname);

/// <summary>MAC → binding; a MAC without a binding gets no answer.</summary>
public interface IDhcpBindings
{
    bool TryGet(PhysicalAddress mac, out DhcpBinding binding);
}

/// <summary>The firmware kind from option 93 (RFC 4578 and IANA "Processor Architecture Types").</summary>
public enum DhcpClientArch
{
    /// <summary>0: x86 BIOS.</summary>
    Bios,

    /// <summary>7 or 9: x64 UEFI PXE.</summary>
    UefiX64,

    /// <summary>16: x64 UEFI HTTP boot.</summary>
    UefiHttp,

    /// <summary>Any other type, or no option 93 (a plain DHCP client).</summary>
    Other,
}

/// <summary>One understood client message and what we did about it.</summary>
/// <param name="Mac">The client's hardware address (chaddr).</param>
/// <param name="Node">The bound node, null for an unknown MAC.</param>
/// <param name="MessageType">DISCOVER, REQUEST, DECLINE, RELEASE or INFORM.</param>
/// <param name="Arch">The firmware kind from option 93.</param>
/// <param name="IsIpxe">iPXE asked (option 175 or user class "iPXE").</param>
/// <param name="Assigned">The address offered or acknowledged, if any.</param>
/// <param name="Acked">True when the answer was a DHCPACK.</param>
public sealed record DhcpObservation(PhysicalAddress Mac, NodeId? Node, string MessageType, DhcpClientArch Arch, bool IsIpxe,
    IPAddress? Assigned, bool Acked);

/// <summary>DHCP message types (option 53, RFC 2132 9.6).</summary>
public enum DhcpMessageType : byte
{
    None = 0,
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

/// <summary>Why a received frame was not answered.</summary>
public enum DhcpDropReason
{
    /// <summary>Not an IPv4 UDP datagram to port 67 (the filter let something else through).</summary>
    NotDhcp,
    /// <summary>Sent to another host's unicast address.</summary>
    NotForUs,
    /// <summary>The Ethernet/IPv4/UDP framing is broken: truncated, bad lengths or a bad checksum.</summary>
    BadFrame,
    /// <summary>Shorter than the BOOTP header and magic cookie.</summary>
    Truncated,
    /// <summary>op is not BOOTREQUEST.</summary>
    WrongOp,
    /// <summary>htype not Ethernet, or hlen not 6 (or beyond the 16-byte chaddr).</summary>
    BadHardwareAddress,
    /// <summary>No DHCP magic cookie: plain BOOTP, not served.</summary>
    NoMagicCookie,
    /// <summary>An option's length runs past the end of its field.</summary>
    OptionOverflow,
    /// <summary>A known option with a length it cannot have.</summary>
    BadOptionLength,
    /// <summary>An options area without the end option.</summary>
    MissingEnd,
    /// <summary>Option 52 with a value other than 1, 2 or 3.</summary>
    BadOverload,
    /// <summary>No option 53: BOOTP, not served.</summary>
    NoMessageType,
    /// <summary>A message type a client does not send (OFFER, ACK, NAK) or an unknown one.</summary>
    BadMessageType,
    /// <summary>A REQUEST that fits none of the RFC 2131 client states.</summary>
    BadRequest,
    /// <summary>A REQUEST naming another server: the client chose someone else.</summary>
    OtherServer,
    /// <summary>The MAC has no binding in this daemon's subtree.</summary>
    UnknownClient,
    /// <summary>Sending the reply failed.</summary>
    SendFailed,
    /// <summary>The reply did not fit the client's maximum message size or the MTU.</summary>
    ReplyTooLarge,
    /// <summary>A fault of ours while handling the message (logged as an error).</summary>
    InternalError,
}
