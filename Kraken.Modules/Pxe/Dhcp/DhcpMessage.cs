// A parsed DHCPv4 message: the BOOTP fixed header and the options this server acts on, as values and as
// slices of the datagram (no allocation). DhcpCodec.TryParse makes one.
using System.Buffers.Binary;
using Kraken.Net.Packets;

namespace Kraken.Modules.Pxe.Dhcp;

/// <summary>Where an option's data lies in the datagram; <see cref="Present"/> is false when the option was absent.</summary>
public readonly record struct OptionSlice(int Offset, int Length)
{
    public bool Present => Offset > 0;

    public ReadOnlySpan<byte> Of(ReadOnlySpan<byte> datagram) => Present ? datagram.Slice(Offset, Length) : default;
}

public struct DhcpMessage
{
    public const byte BootRequest = 1;
    public const byte BootReply = 2;
    public const ushort BroadcastFlag = 0x8000;

    public byte Op;
    public byte HardwareType;
    public byte HardwareLength;
    public byte Hops;
    public uint TransactionId;
    public ushort Seconds;
    public ushort Flags;
    public uint ClientAddress;       // ciaddr
    public uint YourAddress;         // yiaddr
    public uint ServerAddress;       // siaddr
    public uint RelayAddress;        // giaddr
    public MacAddress ClientMac;     // chaddr, for htype 1 / hlen 6

    /// <summary>sname and file as strings when option 52 did not claim them for options.</summary>
    public OptionSlice ServerName;
    public OptionSlice BootFile;

    public DhcpMessageType MessageType;
    public byte Overload;
    public uint? RequestedAddress;
    public uint? ServerIdentifier;
    public ushort? MaxMessageSize;
    public uint? LeaseSeconds;

    /// <summary>The first architecture type in option 93.</summary>
    public ushort? ClientArchType;
    public OptionSlice VendorClass;
    public OptionSlice UserClass;
    public OptionSlice ClientUuid;
    public OptionSlice ClientId;
    public OptionSlice HostName;
    public OptionSlice ParameterRequestList;
    public OptionSlice IpxeOptions;
    public OptionSlice RelayAgentInformation;

    public readonly bool Broadcast => (Flags & BroadcastFlag) != 0;

    /// <summary>iPXE announces itself with option 175 or the user class "iPXE".</summary>
    public readonly bool IsIpxe(ReadOnlySpan<byte> datagram) =>
        IpxeOptions.Present || UserClassContains(datagram, "iPXE"u8);

    public readonly DhcpClientArch Arch => ClientArchType switch
    {
        null => DhcpClientArch.Other,
        0 => DhcpClientArch.Bios,
        7 or 9 => DhcpClientArch.UefiX64,
        16 => DhcpClientArch.UefiHttp,
        _ => DhcpClientArch.Other,
    };

    public readonly bool VendorClassStartsWith(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> prefix) =>
        VendorClass.Of(datagram).StartsWith(prefix);

    /// <summary>
    /// RFC 3004 user class data is a list of length-prefixed names; iPXE and many clients send one bare name,
    /// so both forms are matched.
    /// </summary>
    public readonly bool UserClassContains(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> name)
    {
        var data = UserClass.Of(datagram);
        if (data.SequenceEqual(name))
        {
            return true;
        }

        while (data.Length > 0)
        {
            var length = data[0];
            if (length + 1 > data.Length)
            {
                return false;
            }

            if (data.Slice(1, length).SequenceEqual(name))
            {
                return true;
            }

            data = data[(1 + length)..];
        }

        return false;
    }

    public readonly bool Requested(ReadOnlySpan<byte> datagram, byte option) =>
        ParameterRequestList.Of(datagram).Contains(option);

    internal static uint ReadAddress(ReadOnlySpan<byte> data) => BinaryPrimitives.ReadUInt32BigEndian(data);
}
