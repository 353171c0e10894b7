// Builds client DHCP messages and frames for the tests, and reads replies.
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Packets;

namespace Kraken.Modules.Tests.Pxe.Dhcp;

internal static class DhcpFrames
{
    public const uint ServerIp = 0xC612_0001;   // 198.18.0.1

    /// <summary>Writes a client message; <paramref name="options"/> adds options after 53.</summary>
    public static byte[] Message(DhcpMessageType type, MacAddress mac, uint xid = 0x1234_5678, ushort flags = 0, uint ciaddr = 0,
        uint giaddr = 0, Action<DhcpWriterBox>? options = null, byte op = DhcpMessage.BootRequest)
    {
        var buffer = new byte[1400];
        var writer = new DhcpWriter(buffer);
        writer.Header(op, xid, 3, flags, ciaddr, 0, 0, giaddr, mac, hops: giaddr != 0 ? (byte)1 : (byte)0);
        writer.Option(DhcpOption.MessageType, (byte)type);
        var box = new DhcpWriterBox();
        options?.Invoke(box);
        foreach (var (code, data) in box.Options)
        {
            writer.Option(code, data);
        }

        var length = writer.Finish();
        return buffer[..length];
    }

    /// <summary>Wraps a DHCP payload in Ethernet/IPv4/UDP from the client to the broadcast address (or <paramref name="destinationIp"/>).</summary>
    public static byte[] Frame(byte[] payload, MacAddress source, uint sourceIp = 0, uint destinationIp = Ipv4.Broadcast,
        MacAddress? destinationMac = null, ushort sourcePort = 68, ushort destinationPort = 67)
    {
        var frame = new byte[UdpFrame.HeaderLength + payload.Length];
        UdpFrame.Write(frame, source, destinationMac ?? MacAddress.Broadcast, sourceIp, destinationIp, sourcePort, destinationPort, payload);
        return frame;
    }

    public static byte[] Option(byte code, params byte[] data) => [code, (byte)data.Length, .. data];
}

/// <summary>Options collected for <see cref="DhcpFrames.Message"/> (a ref struct writer cannot be captured).</summary>
internal sealed class DhcpWriterBox
{
    public List<(byte Code, byte[] Data)> Options { get; } = [];

    public DhcpWriterBox Add(byte code, params byte[] data)
    {
        Options.Add((code, data));
        return this;
    }

    public DhcpWriterBox Address(byte code, uint address) =>
        Add(code, (byte)(address >> 24), (byte)(address >> 16), (byte)(address >> 8), (byte)address);

    public DhcpWriterBox Text(byte code, string text) => Add(code, System.Text.Encoding.ASCII.GetBytes(text));
}
