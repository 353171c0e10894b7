// One value at a state URL: a small tagged union that holds scalars without allocating.
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Google.Protobuf.Reflection;

namespace Kraken.Tree.State;

/// <summary>The kinds of value a state URL can hold.</summary>
public enum ValueKind : byte
{
    /// <summary>Not set: in Cfg, "don't care".</summary>
    None = 0,
    Enum,
    Bool,
    Int,
    UInt,
    String,
    IPv4,
    Mac,
    NodeId,
    NodeIdList,
}

/// <summary>
/// A value read from or written to a state URL. Scalars (enums, numbers, addresses, ids) are held inline;
/// strings and id lists by reference. Enum values carry their descriptor so they format by name.
/// </summary>
public readonly struct StateValue : IEquatable<StateValue>
{
    private readonly ulong _a;
    private readonly ulong _b;
    private readonly object? _ref;

    private StateValue(ValueKind kind, ulong a, ulong b, object? reference)
    {
        Kind = kind;
        _a = a;
        _b = b;
        _ref = reference;
    }

    public ValueKind Kind { get; }

    public bool IsSet => Kind != ValueKind.None;

    /// <summary>The unset value.</summary>
    public static StateValue None => default;

    public static StateValue FromEnum(EnumDescriptor type, int number) => new(ValueKind.Enum, (ulong)(uint)number, 0, type);

    public static StateValue FromEnum<T>(T value)
        where T : struct, Enum => FromEnum(EnumTypes.Descriptor<T>(), Convert.ToInt32(value, CultureInfo.InvariantCulture));

    public static StateValue FromBool(bool value) => new(ValueKind.Bool, value ? 1UL : 0UL, 0, null);

    public static StateValue FromInt(long value) => new(ValueKind.Int, (ulong)value, 0, null);

    public static StateValue FromUInt(ulong value) => new(ValueKind.UInt, value, 0, null);

    public static StateValue FromString(string value) => new(ValueKind.String, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>An IPv4 address given as a big-endian integer (198.18.0.1 = 0xC6120001).</summary>
    public static StateValue FromIPv4(uint address) => new(ValueKind.IPv4, address, 0, null);

    public static StateValue FromIPv4(IPAddress address)
    {
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"'{address}' is not an IPv4 address.", nameof(address));
        }

        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return FromIPv4(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b));
    }

    /// <summary>A MAC address in the low 48 bits.</summary>
    public static StateValue FromMac(ulong mac) => new(ValueKind.Mac, mac & 0xFFFF_FFFF_FFFFUL, 0, null);

    public static StateValue FromNodeId(NodeId id) => new(ValueKind.NodeId, id.High, id.Low, null);

    public static StateValue FromNodeIds(ImmutableArray<NodeId> ids) => new(ValueKind.NodeIdList, 0, 0, ids.IsDefault ? ImmutableArray<NodeId>.Empty : ids);

    public int EnumNumber => Kind == ValueKind.Enum ? (int)(uint)_a : throw WrongKind(ValueKind.Enum);

    public EnumDescriptor EnumType => Kind == ValueKind.Enum ? (EnumDescriptor)_ref! : throw WrongKind(ValueKind.Enum);

    public bool Bool => Kind == ValueKind.Bool ? _a != 0 : throw WrongKind(ValueKind.Bool);

    public long Int => Kind == ValueKind.Int ? (long)_a : throw WrongKind(ValueKind.Int);

    public ulong UInt => Kind == ValueKind.UInt ? _a : throw WrongKind(ValueKind.UInt);

    public string String => Kind == ValueKind.String ? (string)_ref! : throw WrongKind(ValueKind.String);

    public uint IPv4 => Kind == ValueKind.IPv4 ? (uint)_a : throw WrongKind(ValueKind.IPv4);

    public ulong Mac => Kind == ValueKind.Mac ? _a : throw WrongKind(ValueKind.Mac);

    public NodeId NodeId => Kind == ValueKind.NodeId ? new NodeId(_a, _b) : throw WrongKind(ValueKind.NodeId);

    public ImmutableArray<NodeId> NodeIds => Kind == ValueKind.NodeIdList ? (ImmutableArray<NodeId>)_ref! : throw WrongKind(ValueKind.NodeIdList);

    /// <summary>The enum value as the CLR enum <typeparamref name="T"/>.</summary>
    public T As<T>()
        where T : struct, Enum => (T)Enum.ToObject(typeof(T), EnumNumber);

    /// <summary>The raw scalar bits, for hashing and compact keys (enum number, number, address...).</summary>
    internal ulong ScalarBits => _a;

    private InvalidOperationException WrongKind(ValueKind wanted) => new($"The value is {Kind}, not {wanted}.");

    public bool Equals(StateValue other)
    {
        if (Kind != other.Kind || _a != other._a || _b != other._b)
        {
            return false;
        }

        return Kind switch
        {
            ValueKind.String => string.Equals((string)_ref!, (string)other._ref!, StringComparison.Ordinal),
            ValueKind.NodeIdList => ((ImmutableArray<NodeId>)_ref!).AsSpan().SequenceEqual(((ImmutableArray<NodeId>)other._ref!).AsSpan()),
            ValueKind.Enum => ReferenceEquals(_ref, other._ref) || ((EnumDescriptor)_ref!).FullName == ((EnumDescriptor)other._ref!).FullName,
            _ => true,
        };
    }

    public override bool Equals(object? obj) => obj is StateValue other && Equals(other);

    public override int GetHashCode() => Kind switch
    {
        ValueKind.String => HashCode.Combine(Kind, StringComparer.Ordinal.GetHashCode((string)_ref!)),
        ValueKind.NodeIdList => HashCode.Combine(Kind, ((ImmutableArray<NodeId>)_ref!).Length),
        _ => HashCode.Combine(Kind, _a, _b),
    };

    public static bool operator ==(StateValue left, StateValue right) => left.Equals(right);

    public static bool operator !=(StateValue left, StateValue right) => !left.Equals(right);

    /// <summary>The text form used by URLs, the API and state files; unset is the empty string.</summary>
    public override string ToString() => Kind switch
    {
        ValueKind.None => string.Empty,
        ValueKind.Enum => ((EnumDescriptor)_ref!).FindValueByNumber((int)(uint)_a)?.Name ?? ((int)(uint)_a).ToString(CultureInfo.InvariantCulture),
        ValueKind.Bool => _a != 0 ? "true" : "false",
        ValueKind.Int => ((long)_a).ToString(CultureInfo.InvariantCulture),
        ValueKind.UInt => _a.ToString(CultureInfo.InvariantCulture),
        ValueKind.String => (string)_ref!,
        ValueKind.IPv4 => FormatIPv4((uint)_a),
        ValueKind.Mac => FormatMac(_a),
        ValueKind.NodeId => new NodeId(_a, _b).ToString(),
        ValueKind.NodeIdList => string.Join(',', (ImmutableArray<NodeId>)_ref!),
        _ => $"?{Kind}",
    };

    public static string FormatIPv4(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}");

    public static string FormatMac(ulong mac) =>
        string.Create(CultureInfo.InvariantCulture, $"{(mac >> 40) & 0xFF:x2}:{(mac >> 32) & 0xFF:x2}:{(mac >> 24) & 0xFF:x2}:{(mac >> 16) & 0xFF:x2}:{(mac >> 8) & 0xFF:x2}:{mac & 0xFF:x2}");

    public static bool TryParseIPv4(ReadOnlySpan<char> text, out uint address)
    {
        address = 0;
        var parts = 0;
        while (true)
        {
            var dot = text.IndexOf('.');
            var part = dot < 0 ? text : text[..dot];
            if (part.Length is 0 or > 3 || !uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var octet) || octet > 255)
            {
                return false;
            }

            address = (address << 8) | octet;
            parts++;
            if (dot < 0)
            {
                return parts == 4;
            }

            if (parts == 4)
            {
                return false;
            }

            text = text[(dot + 1)..];
        }
    }

    /// <summary>Parses aa:bb:cc:dd:ee:ff (or with dashes).</summary>
    public static bool TryParseMac(ReadOnlySpan<char> text, out ulong mac)
    {
        mac = 0;
        if (text.Length != 17)
        {
            return false;
        }

        for (var i = 0; i < 6; i++)
        {
            var o = i * 3;
            if (i > 0 && text[o - 1] != ':' && text[o - 1] != '-')
            {
                return false;
            }

            if (!byte.TryParse(text.Slice(o, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                return false;
            }

            mac = (mac << 8) | b;
        }

        return true;
    }
}
