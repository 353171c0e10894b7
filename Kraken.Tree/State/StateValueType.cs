// What a leaf state URL accepts: its kind, enum names, limits and text rules; parses and validates text values.
using System.Collections.Immutable;
using System.Globalization;
using Google.Protobuf.Reflection;

namespace Kraken.Tree.State;

public sealed class StateValueType
{
    private StateValueType(ValueKind kind, EnumDescriptor? enumType, ulong max, bool sensitive, TextRule rule = TextRule.Text, int maxLength = ValueRules.MaxTextBytes)
    {
        Kind = kind;
        EnumType = enumType;
        MaxValue = max;
        Sensitive = sensitive;
        Rule = rule;
        MaxLength = maxLength;
    }

    public ValueKind Kind { get; }

    public EnumDescriptor? EnumType { get; }

    /// <summary>Largest accepted number, 0 when unlimited.</summary>
    public ulong MaxValue { get; }

    /// <summary>Secrets and secret references: never logged, masked by the API.</summary>
    public bool Sensitive { get; }

    /// <summary>What a string value holds (free text, a host name...): the rule it is checked by.</summary>
    public TextRule Rule { get; }

    /// <summary>The longest string accepted, in UTF-8 bytes.</summary>
    public int MaxLength { get; }

    /// <summary>Free text of up to <see cref="ValueRules.MaxTextBytes"/> bytes.</summary>
    public static StateValueType String { get; } = new(ValueKind.String, null, 0, false);

    public static StateValueType Bool { get; } = new(ValueKind.Bool, null, 0, false);

    public static StateValueType Int { get; } = new(ValueKind.Int, null, 0, false);

    public static StateValueType UInt { get; } = new(ValueKind.UInt, null, 0, false);

    public static StateValueType IPv4 { get; } = new(ValueKind.IPv4, null, 0, false);

    public static StateValueType Mac { get; } = new(ValueKind.Mac, null, 0, false);

    public static StateValueType NodeId { get; } = new(ValueKind.NodeId, null, 0, false);

    public static StateValueType NodeIdList { get; } = new(ValueKind.NodeIdList, null, 0, false);

    public static StateValueType ForEnum(EnumDescriptor type) => new(ValueKind.Enum, type, 0, false);

    public static StateValueType Create(ValueKind kind, ulong max, bool sensitive) => new(kind, null, max, sensitive);

    /// <summary>A string type checked by <paramref name="rule"/>, at most <paramref name="maxLength"/> UTF-8 bytes long.</summary>
    public static StateValueType ForText(TextRule rule, int maxLength = ValueRules.MaxTextBytes, bool sensitive = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        return rule == TextRule.Text && maxLength == ValueRules.MaxTextBytes && !sensitive ? String : new(ValueKind.String, null, 0, sensitive, rule, maxLength);
    }

    /// <summary>A short description of what is valid, for error messages.</summary>
    public string Describe() => Kind switch
    {
        ValueKind.Enum => "one of " + string.Join(", ", EnumTypes.Names(EnumType!)),
        ValueKind.Bool => "true or false",
        ValueKind.Int => "an integer",
        ValueKind.UInt => MaxValue > 0 ? $"an integer from 0 to {MaxValue}" : "a non-negative integer",
        ValueKind.String => Rule switch
        {
            TextRule.HostName => $"a host name (RFC 1123: labels of 1 to {ValueRules.MaxLabelLength} letters, digits and '-', at most {Math.Min(MaxLength, ValueRules.MaxHostNameLength)} characters)",
            TextRule.InterfaceName => $"an interface name (1 to {ValueRules.MaxInterfaceNameLength} characters, no '/', ':' or whitespace)",
            _ => $"a string of at most {MaxLength} bytes without control characters",
        },
        ValueKind.IPv4 => "an IPv4 address such as 198.18.0.1",
        ValueKind.Mac => "a MAC address such as 52:54:00:18:00:01",
        ValueKind.NodeId => "a node id (UUID)",
        ValueKind.NodeIdList => "a comma-separated list of node ids",
        _ => Kind.ToString(),
    };

    /// <summary>Parses the text form. Enum values are accepted by name or by number.</summary>
    public bool TryParse(string text, out StateValue value, out string? error)
    {
        value = default;
        error = null;
        switch (Kind)
        {
            case ValueKind.Enum:
                var byName = EnumType!.FindValueByName(text);
                if (byName is null && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
                {
                    byName = EnumType.FindValueByNumber(n);
                }

                if (byName is null)
                {
                    break;
                }

                value = StateValue.FromEnum(EnumType, byName.Number);
                return true;
            case ValueKind.Bool:
                if (bool.TryParse(text, out var b))
                {
                    value = StateValue.FromBool(b);
                    return true;
                }

                break;
            case ValueKind.Int:
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l))
                {
                    value = StateValue.FromInt(l);
                    return true;
                }

                break;
            case ValueKind.UInt:
                if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var u))
                {
                    return TryCheck(StateValue.FromUInt(u), out value, out error);
                }

                break;
            case ValueKind.String:
                return TryCheck(StateValue.FromString(text), out value, out error);
            case ValueKind.IPv4:
                if (StateValue.TryParseIPv4(text, out var ip))
                {
                    value = StateValue.FromIPv4(ip);
                    return true;
                }

                break;
            case ValueKind.Mac:
                if (StateValue.TryParseMac(text, out var mac))
                {
                    value = StateValue.FromMac(mac);
                    return true;
                }

                break;
            case ValueKind.NodeId:
                if (State.NodeId.TryParse(text, out var id) && !id.IsNil)
                {
                    value = StateValue.FromNodeId(id);
                    return true;
                }

                break;
            case ValueKind.NodeIdList:
                var builder = ImmutableArray.CreateBuilder<NodeId>();
                var ok = true;
                foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!State.NodeId.TryParse(part, out var pid) || pid.IsNil)
                    {
                        ok = false;
                        break;
                    }

                    builder.Add(pid);
                }

                if (ok)
                {
                    value = StateValue.FromNodeIds(builder.ToImmutable());
                    return true;
                }

                break;
        }

        error ??= $"'{text}' is not valid: expected {Describe()}";
        return false;
    }

    /// <summary>Checks that a typed value fits this type (kind, enum member, limits).</summary>
    public bool TryCheck(StateValue candidate, out StateValue value, out string? error)
    {
        value = default;
        error = null;
        if (!candidate.IsSet)
        {
            return true;
        }

        if (candidate.Kind != Kind)
        {
            // Integers cross signedness when the number fits.
            if (Kind == ValueKind.UInt && candidate.Kind == ValueKind.Int && candidate.Int >= 0)
            {
                candidate = StateValue.FromUInt((ulong)candidate.Int);
            }
            else if (Kind == ValueKind.Int && candidate.Kind == ValueKind.UInt && candidate.UInt <= long.MaxValue)
            {
                candidate = StateValue.FromInt((long)candidate.UInt);
            }
            else
            {
                error = $"a {candidate.Kind} value ('{candidate}') is not valid: expected {Describe()}";
                return false;
            }
        }

        switch (Kind)
        {
            case ValueKind.Enum:
                if (candidate.EnumType.FullName != EnumType!.FullName || EnumType.FindValueByNumber(candidate.EnumNumber) is null)
                {
                    error = $"'{candidate}' is not valid: expected {Describe()}";
                    return false;
                }

                candidate = StateValue.FromEnum(EnumType, candidate.EnumNumber);
                break;
            case ValueKind.UInt when MaxValue > 0 && candidate.UInt > MaxValue:
                error = $"{candidate.UInt} is too large: expected {Describe()}";
                return false;
            case ValueKind.NodeId when candidate.NodeId.IsNil:
                error = "the nil id is not a valid node id";
                return false;
            case ValueKind.String when !ValueRules.TryCheckText(candidate.String, Rule, MaxLength, out error, Sensitive):
                return false;
        }

        value = candidate;
        return true;
    }
}
