// A 48-bit Ethernet address as a value (a cheap dictionary key, no allocation to read or write).
using System.Buffers.Binary;
using System.Net.NetworkInformation;

namespace Kraken.Net.Packets;

public readonly record struct MacAddress(ulong Value) : ISpanFormattable
{
    public const int Length = 6;

    public static MacAddress Broadcast { get; } = new(0xffff_ffff_ffffUL);

    public bool IsBroadcast => Value == 0xffff_ffff_ffffUL;

    /// <summary>The group bit (broadcast and multicast).</summary>
    public bool IsGroup => (Value & 0x0100_0000_0000UL) != 0;

    public static MacAddress Read(ReadOnlySpan<byte> bytes) =>
        new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(bytes) << 32) | BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)Value);
    }

    public static MacAddress From(PhysicalAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bytes = address.GetAddressBytes();
        return bytes.Length == Length ? Read(bytes) : throw new ArgumentException("not a 48-bit address", nameof(address));
    }

    public PhysicalAddress ToPhysicalAddress()
    {
        var bytes = new byte[Length];
        Write(bytes);
        return new PhysicalAddress(bytes);
    }

    public override string ToString() => ToString(null, null);

    public string ToString(string? format, IFormatProvider? formatProvider) =>
        string.Create(17, Value, static (span, value) => Format(span, value));

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        if (destination.Length < 17)
        {
            charsWritten = 0;
            return false;
        }

        Format(destination, Value);
        charsWritten = 17;
        return true;
    }

    private static void Format(Span<char> destination, ulong value)
    {
        const string hex = "0123456789abcdef";
        for (var i = 0; i < Length; i++)
        {
            var b = (byte)(value >> (40 - (8 * i)));
            destination[i * 3] = hex[b >> 4];
            destination[(i * 3) + 1] = hex[b & 0xf];
            if (i < Length - 1)
            {
                destination[(i * 3) + 2] = ':';
            }
        }
    }
}
