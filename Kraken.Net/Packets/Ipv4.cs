// IPv4 addresses as host-order integers (198.18.0.1 is 0xC6120001), the form the packet codec uses.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Kraken.Net.Packets;

public static class Ipv4
{
    public const uint Broadcast = 0xffff_ffff;

    public static uint ToUInt32(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static IPAddress ToAddress(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    /// <summary>The netmask of a prefix length (24 gives 0xFFFFFF00).</summary>
    public static uint Mask(int prefixLength) =>
        prefixLength is < 0 or > 32 ? throw new ArgumentOutOfRangeException(nameof(prefixLength)) :
        prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);
}
