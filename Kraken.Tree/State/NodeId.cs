// A node's 128-bit identity, written as a lower-case RFC 4122 UUID string.
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Kraken.Tree.State;

/// <summary>
/// The 128-bit identity of a node. Binary form: 16 bytes in RFC 4122 (big-endian) order.
/// Text form: lower-case 8-4-4-4-12 hex. Ordering is by the binary form, which matches the text order.
/// </summary>
public readonly struct NodeId : IEquatable<NodeId>, IComparable<NodeId>, ISpanFormattable, ISpanParsable<NodeId>
{
    public const int Size = 16;

    private readonly ulong _hi;
    private readonly ulong _lo;

    public NodeId(ulong hi, ulong lo)
    {
        _hi = hi;
        _lo = lo;
    }

    public NodeId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"A node id is {Size} bytes, got {bytes.Length}.", nameof(bytes));
        }

        _hi = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _lo = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
    }

    /// <summary>The all-zero id, never a valid node.</summary>
    public static NodeId Nil => default;

    /// <summary>The id an unconfigured daemon takes, as in the original Kraken.</summary>
    public static NodeId DefaultRoot { get; } = Parse("123e4567-e89b-12d3-a456-426655440000");

    public ulong High => _hi;

    public ulong Low => _lo;

    public bool IsNil => _hi == 0 && _lo == 0;

    /// <summary>A random (version 4) id.</summary>
    public static NodeId NewRandom() => FromGuidBytes(Guid.NewGuid());

    /// <summary>A name-based id: the same name always gives the same id (SHA-256 truncated, version 8 bits).</summary>
    public static NodeId FromName(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new NodeId(hash[..16]);
    }

    private static NodeId FromGuidBytes(Guid g)
    {
        Span<byte> b = stackalloc byte[16];
        g.TryWriteBytes(b, bigEndian: true, out _);
        return new NodeId(b);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _hi);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _lo);
    }

    public byte[] ToByteArray()
    {
        var b = new byte[Size];
        WriteTo(b);
        return b;
    }

    public bool Equals(NodeId other) => _hi == other._hi && _lo == other._lo;

    public override bool Equals(object? obj) => obj is NodeId other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_hi, _lo);

    public int CompareTo(NodeId other)
    {
        var c = _hi.CompareTo(other._hi);
        return c != 0 ? c : _lo.CompareTo(other._lo);
    }

    public static bool operator ==(NodeId left, NodeId right) => left.Equals(right);

    public static bool operator !=(NodeId left, NodeId right) => !left.Equals(right);

    public static bool operator <(NodeId left, NodeId right) => left.CompareTo(right) < 0;

    public static bool operator >(NodeId left, NodeId right) => left.CompareTo(right) > 0;

    public static bool operator <=(NodeId left, NodeId right) => left.CompareTo(right) <= 0;

    public static bool operator >=(NodeId left, NodeId right) => left.CompareTo(right) >= 0;

    public override string ToString()
    {
        Span<char> chars = stackalloc char[36];
        TryFormat(chars, out _, default, null);
        return new string(chars);
    }

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        if (destination.Length < 36)
        {
            charsWritten = 0;
            return false;
        }

        Span<byte> b = stackalloc byte[16];
        WriteTo(b);
        var pos = 0;
        for (var i = 0; i < 16; i++)
        {
            if (i is 4 or 6 or 8 or 10)
            {
                destination[pos++] = '-';
            }

            destination[pos++] = HexDigit(b[i] >> 4);
            destination[pos++] = HexDigit(b[i] & 0xF);
        }

        charsWritten = 36;
        return true;
    }

    private static char HexDigit(int v) => (char)(v < 10 ? '0' + v : 'a' + v - 10);

    public static NodeId Parse(string s) => Parse(s.AsSpan(), null);

    public static NodeId Parse(string s, IFormatProvider? provider) => Parse(s.AsSpan(), provider);

    public static NodeId Parse(ReadOnlySpan<char> s, IFormatProvider? provider)
    {
        if (!TryParse(s, provider, out var id))
        {
            throw new FormatException($"'{s}' is not a node id: expected a UUID such as 123e4567-e89b-12d3-a456-426655440000.");
        }

        return id;
    }

    public static bool TryParse([NotNullWhen(true)] string? s, out NodeId result) => TryParse(s.AsSpan(), null, out result);

    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out NodeId result) => TryParse(s.AsSpan(), provider, out result);

    /// <summary>Parses the 8-4-4-4-12 form (either case), optionally in braces, or 32 bare hex digits.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out NodeId result)
    {
        result = default;
        s = s.Trim();
        if (s.Length == 38 && s[0] == '{' && s[37] == '}')
        {
            s = s[1..^1];
        }

        bool dashed;
        if (s.Length == 36)
        {
            dashed = true;
            if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
            {
                return false;
            }
        }
        else if (s.Length == 32)
        {
            dashed = false;
        }
        else
        {
            return false;
        }

        ulong hi = 0, lo = 0;
        var digits = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (dashed && (i is 8 or 13 or 18 or 23))
            {
                continue;
            }

            var v = HexValue(s[i]);
            if (v < 0)
            {
                return false;
            }

            if (digits < 16)
            {
                hi = (hi << 4) | (uint)v;
            }
            else
            {
                lo = (lo << 4) | (uint)v;
            }

            digits++;
        }

        result = new NodeId(hi, lo);
        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
