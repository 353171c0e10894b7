// The registry of extensions and the resolver that compiles URL text into interned StateUrls.
using System.Collections.Concurrent;
using System.Collections.Immutable;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.State;

/// <summary>A registered extension: typed per-node state owned by a module.</summary>
public sealed class ExtensionInfo
{
    internal ExtensionInfo(int index, string name, MessageDescriptor descriptor, IReadOnlyList<string> legacyTypeNames, Func<string[], string[]?>? legacyPathMapper)
    {
        Index = index;
        Name = name;
        Descriptor = descriptor;
        LegacyTypeNames = legacyTypeNames;
        LegacyPathMapper = legacyPathMapper;
    }

    public int Index { get; }

    /// <summary>Short name used in URLs and state files (<c>IPv4</c>, <c>Pxe</c>, <c>Power</c>).</summary>
    public string Name { get; }

    public MessageDescriptor Descriptor { get; }

    /// <summary>Message names of the original Kraken that map to this extension (<c>PXE.Client</c>).</summary>
    public IReadOnlyList<string> LegacyTypeNames { get; }

    /// <summary>Maps the segments after <c>type.googleapis.com/&lt;legacy&gt;/</c> to ours; null when unmappable.</summary>
    internal Func<string[], string[]?>? LegacyPathMapper { get; }
}

/// <summary>
/// Knows every URL a node record has: the core fields, the registered extensions and services.
/// Resolves URL text (ours and the original Kraken's forms) into interned <see cref="StateUrl"/>s.
/// </summary>
public sealed class StateSchema
{
    public const string ExtensionsSegment = "Extensions";
    public const string ServicesSegment = "Services";
    public const string LegacyTypePrefix = "type.googleapis.com";

    private static readonly (string Name, CoreField Field)[] s_coreFields =
    [
        ("Id", CoreField.Id),
        ("Nodename", CoreField.Nodename),
        ("RunState", CoreField.RunState),
        ("PhysState", CoreField.PhysState),
        ("Arch", CoreField.Arch),
        ("Platform", CoreField.Platform),
        ("ParentId", CoreField.ParentId),
        ("BackupParents", CoreField.BackupParents),
    ];

    private readonly Lock _registerLock = new();
    private readonly ConcurrentDictionary<string, StateUrl> _cache = new(StringComparer.Ordinal);
    private readonly StateUrl[] _coreUrls;
    private readonly StateUrl _servicesUrl;
    private ImmutableArray<ExtensionInfo> _extensions = [];
    private ImmutableArray<StateUrl> _extensionUrls = [];

    public StateSchema()
    {
        _coreUrls = new StateUrl[s_coreFields.Length + 1];
        foreach (var (name, field) in s_coreFields)
        {
            _coreUrls[(int)field] = new StateUrl(this, null, name, UrlKind.CoreField)
            {
                Core = field,
                ValueType = field switch
                {
                    CoreField.Id or CoreField.ParentId => StateValueType.NodeId,
                    CoreField.RunState => StateValueType.ForEnum(EnumTypes.RunState),
                    CoreField.PhysState => StateValueType.ForEnum(EnumTypes.PhysState),
                    CoreField.BackupParents => StateValueType.NodeIdList,
                    _ => StateValueType.ForText(TextRule.Text, ValueRules.MaxNameBytes),
                },
            };
        }

        _servicesUrl = new StateUrl(this, null, ServicesSegment, UrlKind.Services) { Message = Service.Descriptor };
    }

    /// <summary>A schema with the standard extensions (IPv4, Pxe, Power) registered.</summary>
    public static StateSchema CreateDefault()
    {
        var schema = new StateSchema();
        StandardExtensions.Register(schema);
        return schema;
    }

    /// <summary>A shared schema with the standard extensions; modules may register more on it.</summary>
    public static StateSchema Default { get; } = CreateDefault();

    public ImmutableArray<ExtensionInfo> Extensions => _extensions;

    public StateUrl Core(CoreField field) => _coreUrls[(int)field];

    public StateUrl Id => Core(CoreField.Id);

    public StateUrl Nodename => Core(CoreField.Nodename);

    public StateUrl RunState => Core(CoreField.RunState);

    public StateUrl PhysState => Core(CoreField.PhysState);

    public StateUrl Arch => Core(CoreField.Arch);

    public StateUrl Platform => Core(CoreField.Platform);

    public StateUrl ParentId => Core(CoreField.ParentId);

    public StateUrl BackupParents => Core(CoreField.BackupParents);

    internal IEnumerable<StateUrl> CoreUrls => _coreUrls.Skip(1);

    /// <summary>Registers an extension message under a short name; registration order fixes export order.</summary>
    public ExtensionInfo RegisterExtension(string name, MessageDescriptor descriptor, IReadOnlyList<string>? legacyTypeNames = null, Func<string[], string[]?>? legacyPathMapper = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"Extension name '{name}' must not contain '/'.", nameof(name));
        }

        lock (_registerLock)
        {
            var existing = FindExtension(name);
            if (existing is not null)
            {
                if (existing.Descriptor.FullName == descriptor.FullName)
                {
                    return existing;
                }

                throw new InvalidOperationException($"Extension '{name}' is already registered as {existing.Descriptor.FullName}.");
            }

            EnumTypes.Register(descriptor.File);
            var info = new ExtensionInfo(_extensions.Length, name, descriptor, legacyTypeNames ?? [], legacyPathMapper);
            var url = new StateUrl(this, null, ExtensionsSegment + "/" + name, UrlKind.Extension) { ExtensionIndex = info.Index, Message = descriptor };
            _extensionUrls = _extensionUrls.Add(url);
            _extensions = _extensions.Add(info);
            _cache.Clear();
            return info;
        }
    }

    public ExtensionInfo? FindExtension(string name)
    {
        foreach (var e in _extensions)
        {
            if (string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return e;
            }
        }

        return null;
    }

    public StateUrl ExtensionUrl(int index) => _extensionUrls[index];

    /// <summary>The container URL of one service (<c>/Services/pxe</c>).</summary>
    public StateUrl ServiceUrl(string serviceId)
    {
        ValidateKey(serviceId, "service id");
        return _servicesUrl.GetOrAddChild(serviceId, (p, s) => new StateUrl(this, p, s, UrlKind.Service) { Key = s, Message = Service.Descriptor });
    }

    /// <summary>The URL of a service's state (<c>/Services/pxe/State</c>).</summary>
    public StateUrl ServiceState(string serviceId) => Child(ServiceUrl(serviceId), "State");

    /// <summary>Resolves URL text; throws <see cref="UnknownStateUrlException"/> naming what is valid.</summary>
    public StateUrl Resolve(string url)
    {
        if (TryResolve(url, out var result, out var error))
        {
            return result;
        }

        throw new UnknownStateUrlException(url, error!);
    }

    /// <summary>Resolves URL text to an interned <see cref="StateUrl"/>, or explains why not.</summary>
    public bool TryResolve(string url, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StateUrl? result, out string? error)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (_cache.TryGetValue(url, out result))
        {
            error = null;
            return true;
        }

        result = ResolveUncached(url, out error);
        if (result is null)
        {
            return false;
        }

        if (_cache.Count < 100_000)
        {
            _cache.TryAdd(url, result);
        }

        return true;
    }

    private StateUrl? ResolveUncached(string url, out string? error)
    {
        error = null;
        var trimmed = url.Trim();
        if (trimmed.StartsWith('/'))
        {
            trimmed = trimmed[1..];
        }

        if (trimmed.EndsWith('/'))
        {
            trimmed = trimmed[..^1];
        }

        if (trimmed.Length == 0)
        {
            error = $"State URL '{url}' is empty: valid URLs start with {ValidTopLevel()}.";
            return null;
        }

        var segments = trimmed.Split('/');
        if (Array.IndexOf(segments, string.Empty) >= 0)
        {
            error = $"State URL '{url}' has an empty segment.";
            return null;
        }

        if (segments[0] == LegacyTypePrefix)
        {
            segments = MapLegacy(url, segments, out error)!;
            if (segments is null)
            {
                return null;
            }
        }

        var first = segments[0];
        if (string.Equals(first, ExtensionsSegment, StringComparison.OrdinalIgnoreCase))
        {
            return ResolveExtension(url, segments, out error);
        }

        if (string.Equals(first, ServicesSegment, StringComparison.OrdinalIgnoreCase))
        {
            return ResolveService(url, segments, out error);
        }

        foreach (var (name, field) in s_coreFields)
        {
            if (string.Equals(first, name, StringComparison.OrdinalIgnoreCase))
            {
                if (segments.Length > 1)
                {
                    error = $"State URL '{url}': /{name} is a value and has no fields below it.";
                    return null;
                }

                return _coreUrls[(int)field];
            }
        }

        error = $"State URL '{url}': unknown field '{first}'; valid URLs start with {ValidTopLevel()}.";
        return null;
    }

    private string ValidTopLevel()
    {
        var names = s_coreFields.Select(f => "/" + f.Name).ToList();
        names.Add($"/{ExtensionsSegment}/<{string.Join('|', _extensions.Select(e => e.Name))}>");
        names.Add($"/{ServicesSegment}/<service id>");
        return string.Join(", ", names);
    }

    private string[]? MapLegacy(string url, string[] segments, out string? error)
    {
        error = null;
        if (segments.Length < 2)
        {
            error = $"State URL '{url}': expected {LegacyTypePrefix}/<package>.<Message>/...";
            return null;
        }

        foreach (var ext in _extensions)
        {
            if (!ext.LegacyTypeNames.Contains(segments[1]))
            {
                continue;
            }

            var rest = segments[2..];
            var mapped = ext.LegacyPathMapper is null ? rest : ext.LegacyPathMapper(rest);
            if (mapped is null)
            {
                error = $"State URL '{url}': {segments[1]} field '{string.Join('/', rest)}' has no counterpart in /{ExtensionsSegment}/{ext.Name}.";
                return null;
            }

            return [ExtensionsSegment, ext.Name, .. mapped];
        }

        var known = _extensions.SelectMany(e => e.LegacyTypeNames).ToArray();
        error = $"State URL '{url}': unknown extension type '{segments[1]}'; known: {(known.Length == 0 ? "none" : string.Join(", ", known))}.";
        return null;
    }

    private StateUrl? ResolveExtension(string url, string[] segments, out string? error)
    {
        error = null;
        if (segments.Length < 2)
        {
            error = $"State URL '{url}': name an extension: {string.Join(", ", _extensions.Select(e => $"/{ExtensionsSegment}/{e.Name}"))}.";
            return null;
        }

        var ext = FindExtension(segments[1]);
        if (ext is null)
        {
            error = $"State URL '{url}': unknown extension '{segments[1]}'; registered: {string.Join(", ", _extensions.Select(e => e.Name))}.";
            return null;
        }

        var current = _extensionUrls[ext.Index];
        for (var i = 2; i < segments.Length; i++)
        {
            current = Step(url, current, segments[i], out error)!;
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    private StateUrl? ResolveService(string url, string[] segments, out string? error)
    {
        error = null;
        if (segments.Length < 2)
        {
            return _servicesUrl;
        }

        if (!IsValidKey(segments[1]))
        {
            error = $"State URL '{url}': '{segments[1]}' is not a valid service id (letters, digits, '.', '_' and '-').";
            return null;
        }

        var current = ServiceUrl(segments[1]);
        for (var i = 2; i < segments.Length; i++)
        {
            current = Step(url, current, segments[i], out error)!;
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>The child of a container URL for one segment (a field name or a map key).</summary>
    public StateUrl Child(StateUrl parent, string segment)
    {
        var child = Step(parent.Path + "/" + segment, parent, segment, out var error);
        return child ?? throw new UnknownStateUrlException(parent.Path + "/" + segment, error!);
    }

    private StateUrl? Step(string url, StateUrl parent, string segment, out string? error)
    {
        error = null;
        if (parent.IsLeaf)
        {
            error = $"State URL '{url}': {parent.Path} is a value and has no fields below it.";
            return null;
        }

        // A map field: the segment is a key.
        if (parent.Kind == UrlKind.ExtensionField && parent.Field is { IsMap: true } mapField)
        {
            if (!IsValidKey(segment) || StateUrl.ConvertKey(mapField, segment) is null)
            {
                error = $"State URL '{url}': '{segment}' is not a valid key for {parent.Path}.";
                return null;
            }

            return KeyChild(parent, segment);
        }

        var message = parent.Message;
        if (message is null)
        {
            error = $"State URL '{url}': {parent.Path} has no fields.";
            return null;
        }

        var field = FindField(message, segment, parent.Kind is UrlKind.Service or UrlKind.Services);
        if (field is null)
        {
            error = $"State URL '{url}': unknown field '{segment}' in {parent.Path}; valid: {string.Join(", ", AddressableFields(message, parent.Kind is UrlKind.Service).Select(f => f.PropertyName))}.";
            return null;
        }

        if (field.IsRepeated && !field.IsMap)
        {
            error = $"State URL '{url}': {field.PropertyName} is a list, which state URLs do not address.";
            return null;
        }

        if (!field.IsMap && field.FieldType != FieldType.Message && LeafType(field) is null)
        {
            error = $"State URL '{url}': field {field.PropertyName} has a type state URLs do not address.";
            return null;
        }

        return FieldChild(parent, field);
    }

    /// <summary>The interned URL of a field below a container URL.</summary>
    internal StateUrl FieldChild(StateUrl parent, FieldDescriptor field) =>
        parent.GetOrAddChild(field.PropertyName, (p, s) => new StateUrl(this, p, s, p.Kind is UrlKind.Service ? UrlKind.ServiceField : UrlKind.ExtensionField)
        {
            ExtensionIndex = p.ExtensionIndex,
            Field = field,
            Message = field.FieldType == FieldType.Message && !field.IsMap ? field.MessageType : null,
            ValueType = field.IsMap || field.FieldType == FieldType.Message ? null : LeafType(field),
        });

    /// <summary>The interned URL of one entry of a map field.</summary>
    internal StateUrl KeyChild(StateUrl mapUrl, string key)
    {
        var mapField = mapUrl.Field!;
        return mapUrl.GetOrAddChild(key, (p, s) =>
        {
            var valueField = mapField.MessageType.FindFieldByNumber(2);
            return new StateUrl(this, p, s, UrlKind.MapEntry)
            {
                ExtensionIndex = p.ExtensionIndex,
                Field = mapField,
                Key = s,
                Message = valueField.FieldType == FieldType.Message ? valueField.MessageType : null,
                ValueType = valueField.FieldType == FieldType.Message ? null : LeafType(valueField),
            };
        });
    }

    private static FieldDescriptor? FindField(MessageDescriptor message, string segment, bool isService)
    {
        foreach (var f in AddressableFields(message, isService))
        {
            if (string.Equals(f.PropertyName, segment, StringComparison.OrdinalIgnoreCase)
                || string.Equals(f.Name, segment, StringComparison.OrdinalIgnoreCase)
                || string.Equals(f.JsonName, segment, StringComparison.OrdinalIgnoreCase))
            {
                return f;
            }
        }

        return null;
    }

    /// <summary>The fields of a message that URLs can name (a service's id is its key, not a field).</summary>
    public static IEnumerable<FieldDescriptor> AddressableFields(MessageDescriptor message, bool isService) =>
        message.Fields.InFieldNumberOrder().Where(f => !(isService && f.FieldNumber == Service.IdFieldNumber));

    /// <summary>What a scalar field holds as a state value (its kind, enum, limits and text rule), or null for a message or map.</summary>
    public static StateValueType? LeafType(FieldDescriptor field)
    {
        var options = field.GetOptions();
        var format = options?.GetExtension(OptionsExtensions.Format) ?? ValueFormat.FormatPlain;
        var max = options?.GetExtension(OptionsExtensions.MaxValue) ?? 0;
        var sensitive = options?.GetExtension(OptionsExtensions.Sensitive) ?? false;
        var maxLength = options?.GetExtension(OptionsExtensions.MaxLength) is { } length and > 0 ? (int)Math.Min(length, int.MaxValue) : ValueRules.MaxTextBytes;
        return field.FieldType switch
        {
            FieldType.Enum => StateValueType.ForEnum(field.EnumType),
            FieldType.Bool => StateValueType.Bool,
            FieldType.String => StateValueType.ForText(
                format switch
                {
                    ValueFormat.FormatHostname => TextRule.HostName,
                    ValueFormat.FormatInterfaceName => TextRule.InterfaceName,
                    _ => TextRule.Text,
                },
                maxLength,
                sensitive),
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 or FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => StateValueType.Int,
            FieldType.Fixed32 when format == ValueFormat.FormatIpv4 => StateValueType.IPv4,
            FieldType.Fixed64 when format == ValueFormat.FormatMac => StateValueType.Mac,
            FieldType.UInt32 or FieldType.Fixed32 => StateValueType.Create(ValueKind.UInt, max == 0 ? uint.MaxValue : max, sensitive),
            FieldType.UInt64 or FieldType.Fixed64 => StateValueType.Create(ValueKind.UInt, max, sensitive),
            _ => null,
        };
    }

    internal static bool IsValidKey(string key)
    {
        if (key.Length is 0 or > 128)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':'))
            {
                return false;
            }
        }

        return true;
    }

    private static void ValidateKey(string key, string what)
    {
        if (!IsValidKey(key))
        {
            throw new ArgumentException($"'{key}' is not a valid {what} (letters, digits, '.', '_', ':' and '-', at most 128).");
        }
    }

    /// <summary>Creates an empty instance of a registered message type.</summary>
    internal static IMessage NewMessage(MessageDescriptor descriptor) => descriptor.Parser.ParseFrom(ByteString.Empty);
}
