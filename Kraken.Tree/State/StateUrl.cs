// A compiled state URL: a node in the schema's URL trie with a typed accessor for its value.
using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Kraken.Tree.State;

/// <summary>What part of a node record a URL addresses.</summary>
public enum UrlKind : byte
{
    CoreField,
    Extension,
    ExtensionField,
    MapEntry,
    Services,
    Service,
    ServiceField,
}

/// <summary>The core fields every node record has.</summary>
public enum CoreField : byte
{
    None,
    Id,
    Nodename,
    RunState,
    PhysState,
    Arch,
    Platform,
    ParentId,
    BackupParents,
}

/// <summary>
/// A resolved state URL such as <c>/PhysState</c>, <c>/Extensions/IPv4/Interfaces/eth0/Ip</c> or
/// <c>/Services/pxe/State</c>. Instances are interned per schema, so reference equality is URL equality.
/// Leaf URLs carry a <see cref="StateValueType"/>; containers (an extension, a map entry, a service) do not.
/// </summary>
public sealed class StateUrl
{
    private readonly Lock _childLock = new();
    private Dictionary<string, StateUrl>? _children;

    internal StateUrl(StateSchema schema, StateUrl? parent, string segment, UrlKind kind)
    {
        Schema = schema;
        Parent = parent;
        Segment = segment;
        Kind = kind;
        Path = parent is null ? "/" + segment : parent.Path + "/" + segment;
        Depth = parent is null ? 1 : parent.Depth + 1;
    }

    public StateSchema Schema { get; }

    public StateUrl? Parent { get; }

    public string Segment { get; }

    public UrlKind Kind { get; }

    /// <summary>The canonical text form, always with a leading slash.</summary>
    public string Path { get; }

    public int Depth { get; }

    /// <summary>The value type of a leaf; null for containers.</summary>
    public StateValueType? ValueType { get; internal init; }

    public bool IsLeaf => ValueType is not null;

    public CoreField Core { get; internal init; }

    internal int ExtensionIndex { get; init; } = -1;

    /// <summary>The protobuf field addressed (extension and service fields, and map fields for map entries).</summary>
    internal FieldDescriptor? Field { get; init; }

    /// <summary>The map key or service id.</summary>
    internal string? Key { get; init; }

    /// <summary>The message type of a container URL, for listing valid children.</summary>
    internal MessageDescriptor? Message { get; init; }

    /// <summary>True for URLs that cannot be written (<c>/Id</c>).</summary>
    public bool ReadOnly => Core == CoreField.Id;

    /// <summary>The extension this URL lies in, or null.</summary>
    public string? ExtensionName => ExtensionIndex >= 0 ? Schema.Extensions[ExtensionIndex].Name : null;

    /// <summary>The service id this URL lies in, or null.</summary>
    public string? ServiceId
    {
        get
        {
            for (var u = this; u is not null; u = u.Parent)
            {
                if (u.Kind == UrlKind.Service)
                {
                    return u.Key;
                }
            }

            return null;
        }
    }

    public override string ToString() => Path;

    /// <summary>Reads this URL's value from a record (unset when any container on the way is absent).</summary>
    public StateValue Get(NodeRecord record)
    {
        if (!IsLeaf)
        {
            throw new InvalidOperationException($"{Path} is not a value but a container.");
        }

        return Kind switch
        {
            UrlKind.CoreField => record.GetCore(Core),
            UrlKind.ServiceField => GetServiceField(record),
            _ => GetExtensionValue(record),
        };
    }

    /// <summary>True when the record has something at this URL (a value, or a non-empty container).</summary>
    public bool IsPresent(NodeRecord record)
    {
        if (IsLeaf)
        {
            return Get(record).IsSet;
        }

        return Kind switch
        {
            UrlKind.Extension => record.GetExtension(ExtensionIndex) is not null,
            UrlKind.Service => record.FindService(Key!) is not null,
            UrlKind.Services => record.Services.Length > 0,
            UrlKind.ExtensionField when Field!.IsMap => Parent!.ResolveMessage(record) is { } owner && ((IDictionary)Field.Accessor.GetValue(owner)).Count > 0,
            _ => ResolveMessage(record) is not null,
        };
    }

    private StateValue GetServiceField(NodeRecord record)
    {
        var service = record.FindService(Parent!.Key!);
        return service is null ? default : ReadField(service, Field!, ValueType!);
    }

    private StateValue GetExtensionValue(NodeRecord record)
    {
        if (Kind == UrlKind.MapEntry)
        {
            // A map with scalar values: the entry itself is the leaf.
            var owner = Parent!.Parent!.ResolveMessage(record);
            if (owner is null)
            {
                return default;
            }

            var map = (IDictionary)Field!.Accessor.GetValue(owner);
            var key = ConvertKey(Field, Key!);
            return key is not null && map.Contains(key) ? FromClr(map[key]!, ValueType!) : default;
        }

        var message = Parent!.ResolveMessage(record);
        return message is null ? default : ReadField(message, Field!, ValueType!);
    }

    /// <summary>For a container URL, the message it names in <paramref name="record"/>, or null.</summary>
    internal IMessage? ResolveMessage(NodeRecord record)
    {
        switch (Kind)
        {
            case UrlKind.Extension:
                return record.GetExtension(ExtensionIndex);
            case UrlKind.Service:
                return record.FindService(Key!);
            case UrlKind.ExtensionField when !Field!.IsMap:
                var owner = Parent!.ResolveMessage(record);
                return owner is null ? null : (IMessage?)Field.Accessor.GetValue(owner);
            case UrlKind.MapEntry:
                // The parent is the map field; the message holding the map is one further up.
                var mapOwner = Parent!.Parent!.ResolveMessage(record);
                if (mapOwner is null)
                {
                    return null;
                }

                var map = (IDictionary)Field!.Accessor.GetValue(mapOwner);
                var key = ConvertKey(Field, Key!);
                return key is not null && map.Contains(key) ? (IMessage?)map[key] : null;
            default:
                return null;
        }
    }

    internal static StateValue ReadField(IMessage message, FieldDescriptor field, StateValueType type)
    {
        if (FieldReader.For(field) is { } reader)
        {
            return reader.Read(message, type);
        }

        if (field.HasPresence && !field.Accessor.HasValue(message))
        {
            return default;
        }

        var raw = field.Accessor.GetValue(message);
        if (!field.HasPresence && IsDefault(raw))
        {
            return default;
        }

        return FromClr(raw, type);
    }

    private static bool IsDefault(object raw) => raw switch
    {
        string s => s.Length == 0,
        bool b => !b,
        int i => i == 0,
        uint u => u == 0,
        long l => l == 0,
        ulong ul => ul == 0,
        Enum e => Convert.ToInt32(e, System.Globalization.CultureInfo.InvariantCulture) == 0,
        _ => false,
    };

    internal static StateValue FromClr(object raw, StateValueType type) => type.Kind switch
    {
        ValueKind.Enum => StateValue.FromEnum(type.EnumType!, Convert.ToInt32(raw, System.Globalization.CultureInfo.InvariantCulture)),
        ValueKind.Bool => StateValue.FromBool((bool)raw),
        ValueKind.String => StateValue.FromString((string)raw),
        ValueKind.Int => StateValue.FromInt(Convert.ToInt64(raw, System.Globalization.CultureInfo.InvariantCulture)),
        ValueKind.UInt => StateValue.FromUInt(Convert.ToUInt64(raw, System.Globalization.CultureInfo.InvariantCulture)),
        ValueKind.IPv4 => StateValue.FromIPv4((uint)raw),
        ValueKind.Mac => StateValue.FromMac((ulong)raw),
        _ => throw new InvalidOperationException($"Unsupported value kind {type.Kind}."),
    };

    internal static object ToClr(StateValue value, FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Enum => Enum.ToObject(field.EnumType.ClrType, value.EnumNumber),
        FieldType.Bool => value.Bool,
        FieldType.String => value.String,
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => checked((int)value.Int),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => value.Int,
        FieldType.UInt32 => checked((uint)value.UInt),
        FieldType.Fixed32 => value.Kind == ValueKind.IPv4 ? value.IPv4 : checked((uint)value.UInt),
        FieldType.UInt64 => value.UInt,
        FieldType.Fixed64 => value.Kind == ValueKind.Mac ? value.Mac : value.UInt,
        _ => throw new InvalidOperationException($"Unsupported field type {field.FieldType}."),
    };

    internal static object? ConvertKey(FieldDescriptor mapField, string key)
    {
        var keyField = mapField.MessageType.FindFieldByNumber(1);
        return keyField.FieldType switch
        {
            FieldType.String => key,
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => int.TryParse(key, out var i) ? i : null,
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => long.TryParse(key, out var l) ? l : null,
            FieldType.UInt32 or FieldType.Fixed32 => uint.TryParse(key, out var u) ? u : null,
            FieldType.UInt64 or FieldType.Fixed64 => ulong.TryParse(key, out var ul) ? ul : null,
            FieldType.Bool => bool.TryParse(key, out var b) ? b : null,
            _ => null,
        };
    }

    /// <summary>The interned child with this canonical segment, created by <paramref name="factory"/> on first use.</summary>
    internal StateUrl GetOrAddChild(string segment, Func<StateUrl, string, StateUrl> factory)
    {
        lock (_childLock)
        {
            _children ??= new Dictionary<string, StateUrl>(StringComparer.Ordinal);
            if (!_children.TryGetValue(segment, out var child))
            {
                child = factory(this, segment);
                _children.Add(segment, child);
            }

            return child;
        }
    }
}
