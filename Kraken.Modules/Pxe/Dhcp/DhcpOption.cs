// DHCP option codes this server reads or writes (RFC 2132 unless noted).
namespace Kraken.Modules.Pxe.Dhcp;

public static class DhcpOption
{
    public const byte Pad = 0;
    public const byte SubnetMask = 1;
    public const byte Router = 3;
    public const byte DomainNameServer = 6;
    public const byte HostName = 12;
    public const byte DomainName = 15;
    public const byte BroadcastAddress = 28;
    public const byte VendorSpecific = 43;
    public const byte RequestedAddress = 50;
    public const byte LeaseTime = 51;
    public const byte Overload = 52;
    public const byte MessageType = 53;
    public const byte ServerIdentifier = 54;
    public const byte ParameterRequestList = 55;
    public const byte Message = 56;
    public const byte MaxMessageSize = 57;
    public const byte RenewalTime = 58;
    public const byte RebindingTime = 59;
    public const byte VendorClass = 60;
    public const byte ClientIdentifier = 61;
    public const byte TftpServerName = 66;
    public const byte BootFileName = 67;
    public const byte UserClass = 77;               // RFC 3004
    public const byte RelayAgentInformation = 82;   // RFC 3046: echoed to the relay
    public const byte ClientArch = 93;              // RFC 4578
    public const byte ClientNdi = 94;               // RFC 4578
    public const byte ClientUuid = 97;              // RFC 4578: type 0 + 16-byte GUID
    public const byte Ipxe = 175;                   // iPXE's encapsulated settings
    public const byte IpxeNoPxeDhcp = 176;          // sub-option of 175: skip waiting for ProxyDHCP
    public const byte End = 255;
}
