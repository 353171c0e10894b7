// One node's state in one view (Cfg or Dsc): immutable, versioned, addressed by state URLs.
using System.Collections;
using System.Collections.Immutable;
using Google.Protobuf;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.State;

/// <summary>
/// An immutable snapshot of one node in one view. Every field is optional: unset means "don't care" in Cfg
/// and "not known" in Dsc. Extension and service messages are shared between versions and must be treated
/// as read-only; change a record with <see cref="Edit"/> or <see cref="With(StateUrl, StateValue)"/>.
/// </summary>
public sealed class NodeRecord
{
    private static readonly IMessage?[] s_noExtensions = [];
    private readonly IMessage?[] _extensions;
    private readonly Service[] _services;

    internal NodeRecord(
        StateSchema schema,
        NodeId id,
        ulong version,
        string? nodename,
        RunState? runState,
        PhysState? physState,
        string? arch,
        string? platform,
        NodeId? parentId,
        ImmutableArray<NodeId> backupParents,
        IMessage?[] extensions,
        Service[] services)
    {
        Schema = schema;
        Id = id;
        Version = version;
        Nodename = nodename;
        RunState = runState;
        PhysState = physState;
        Arch = arch;
        Platform = platform;
        ParentId = parentId;
        BackupParents = backupParents.IsDefault ? [] : backupParents;
        _extensions = extensions;
        _services = services;
    }

    /// <summary>An empty record: only the id is set.</summary>
    public static NodeRecord Empty(NodeId id, StateSchema? schema = null) =>
        new(schema ?? StateSchema.Default, id, 0, null, null, null, null, null, null, [], s_noExtensions, []);

    public StateSchema Schema { get; }

    public NodeId Id { get; }

    /// <summary>Per-node, per-view version; 0 for a record not yet stored.</summary>
    public ulong Version { get; }

    public string? Nodename { get; }

    public RunState? RunState { get; }

    public PhysState? PhysState { get; }

    public string? Arch { get; }

    public string? Platform { get; }

    public NodeId? ParentId { get; }

    /// <summary>Parents to fail over to, in order of preference.</summary>
    public ImmutableArray<NodeId> BackupParents { get; }

    /// <summary>Services by id, sorted by id.</summary>
    public ReadOnlySpan<Service> Services => _services;

    internal Service[] ServiceArray => _services;

    internal IMessage?[] ExtensionArray => _extensions;

    /// <summary>The primary parent followed by the backups, without duplicates.</summary>
    public IEnumerable<NodeId> Parents()
    {
        if (ParentId is { } p)
        {
            yield return p;
        }

        foreach (var b in BackupParents)
        {
            if (b != ParentId)
            {
                yield return b;
            }
        }
    }

    public IMessage? GetExtension(int index) => (uint)index < (uint)_extensions.Length ? _extensions[index] : null;

    public T? GetExtension<T>(string name)
        where T : class, IMessage
    {
        var ext = Schema.FindExtension(name) ?? throw new UnknownStateUrlException($"/{StateSchema.ExtensionsSegment}/{name}", $"Unknown extension '{name}'.");
        return GetExtension(ext.Index) as T;
    }

    public Service? FindService(string id)
    {
        int lo = 0, hi = _services.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = string.CompareOrdinal(_services[mid].Id, id);
            if (c == 0)
            {
                return _services[mid];
            }

            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return null;
    }

    public StateValue Get(StateUrl url) => url.Get(this);

    public StateValue Get(string url) => Schema.Resolve(url).Get(this);

    internal StateValue GetCore(CoreField field) => field switch
    {
        CoreField.Id => StateValue.FromNodeId(Id),
        CoreField.Nodename => Nodename is null ? default : StateValue.FromString(Nodename),
        CoreField.RunState => RunState is { } r ? StateValue.FromEnum(EnumTypes.RunState, (int)r) : default,
        CoreField.PhysState => PhysState is { } p ? StateValue.FromEnum(EnumTypes.PhysState, (int)p) : default,
        CoreField.Arch => Arch is null ? default : StateValue.FromString(Arch),
        CoreField.Platform => Platform is null ? default : StateValue.FromString(Platform),
        CoreField.ParentId => ParentId is { } id ? StateValue.FromNodeId(id) : default,
        CoreField.BackupParents => BackupParents.IsEmpty ? default : StateValue.FromNodeIds(BackupParents),
        _ => default,
    };

    /// <summary>A mutable copy for building the next version.</summary>
    public NodeEditor Edit() => new(this);

    public NodeRecord With(StateUrl url, StateValue value)
    {
        var editor = Edit();
        editor.Set(url, value);
        return editor.Build();
    }

    public NodeRecord With(string url, string value)
    {
        var editor = Edit();
        editor.Set(url, value);
        return editor.Build();
    }

    internal NodeRecord WithVersion(ulong version) =>
        version == Version ? this : new NodeRecord(Schema, Id, version, Nodename, RunState, PhysState, Arch, Platform, ParentId, BackupParents, _extensions, _services);

    /// <summary>
    /// The size of the record's protobuf form (<see cref="NodeRecordCodec.ToBytes"/>, as stored and synced), computed
    /// without encoding it.
    /// </summary>
    public int EncodedSize()
    {
        const int IdField = 1 + 1 + NodeId.Size;
        var size = IdField + ValueRules.StringSize(Nodename) + ValueRules.StringSize(Arch) + ValueRules.StringSize(Platform);
        size += RunState is { } run ? 1 + CodedOutputStream.ComputeEnumSize((int)run) : 0;
        size += PhysState is { } phys ? 1 + CodedOutputStream.ComputeEnumSize((int)phys) : 0;
        size += (ParentId is null ? 0 : IdField) + (BackupParents.Length * IdField);
        size += Version == 0 ? 0 : 1 + CodedOutputStream.ComputeUInt64Size(Version);
        foreach (var s in _services)
        {
            size += 1 + CodedOutputStream.ComputeMessageSize(s);
        }

        for (var i = 0; i < _extensions.Length; i++)
        {
            if (_extensions[i] is { } ext)
            {
                var value = ext.CalculateSize();
                var inner = ValueRules.StringSize(Schema.Extensions[i].Name) + (value == 0 ? 0 : 1 + CodedOutputStream.ComputeLengthSize(value) + value);
                size += 1 + CodedOutputStream.ComputeLengthSize(inner) + inner;
            }
        }

        return size;
    }

    /// <summary>Every set value, in canonical order: core fields, extensions in registration order, services by id.</summary>
    public IEnumerable<KeyValuePair<StateUrl, StateValue>> Values()
    {
        foreach (var url in Schema.CoreUrls)
        {
            if (url.Core == CoreField.Id)
            {
                continue;
            }

            var v = url.Get(this);
            if (v.IsSet)
            {
                yield return new(url, v);
            }
        }

        for (var i = 0; i < _extensions.Length; i++)
        {
            if (_extensions[i] is { } ext)
            {
                foreach (var kv in MessageValues(Schema.ExtensionUrl(i), ext))
                {
                    yield return kv;
                }
            }
        }

        foreach (var svc in _services)
        {
            foreach (var kv in MessageValues(Schema.ServiceUrl(svc.Id), svc))
            {
                yield return kv;
            }
        }
    }

    private IEnumerable<KeyValuePair<StateUrl, StateValue>> MessageValues(StateUrl container, IMessage message)
    {
        foreach (var field in StateSchema.AddressableFields(message.Descriptor, container.Kind == UrlKind.Service))
        {
            var url = Schema.FieldChild(container, field);
            if (field.IsMap)
            {
                var map = (IDictionary)field.Accessor.GetValue(message);
                if (map.Count == 0)
                {
                    continue;
                }

                var keys = new List<KeyValuePair<string, object>>(map.Count);
                foreach (DictionaryEntry e in map)
                {
                    keys.Add(new(Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture)!, e.Key));
                }

                keys.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
                foreach (var (text, key) in keys)
                {
                    var entryUrl = Schema.KeyChild(url, text);
                    var value = map[key]!;
                    if (entryUrl.IsLeaf)
                    {
                        yield return new(entryUrl, StateUrl.FromClr(value, entryUrl.ValueType!));
                    }
                    else
                    {
                        foreach (var kv in MessageValues(entryUrl, (IMessage)value))
                        {
                            yield return kv;
                        }
                    }
                }
            }
            else if (field.FieldType == Google.Protobuf.Reflection.FieldType.Message)
            {
                if (field.Accessor.GetValue(message) is IMessage child)
                {
                    foreach (var kv in MessageValues(url, child))
                    {
                        yield return kv;
                    }
                }
            }
            else if (url.IsLeaf)
            {
                var v = StateUrl.ReadField(message, field, url.ValueType!);
                if (v.IsSet)
                {
                    yield return new(url, v);
                }
            }
        }
    }

    /// <summary>Containers present in the record that hold no value (an empty interface entry, an empty service).</summary>
    internal IEnumerable<StateUrl> EmptyContainers()
    {
        for (var i = 0; i < _extensions.Length; i++)
        {
            if (_extensions[i] is { } ext && ext.CalculateSize() == 0)
            {
                yield return Schema.ExtensionUrl(i);
            }
        }

        foreach (var svc in _services)
        {
            if (!svc.HasState)
            {
                yield return Schema.ServiceUrl(svc.Id);
            }
        }
    }

    /// <summary>True when both records hold the same values (ids and versions aside).</summary>
    public bool ValuesEqual(NodeRecord other)
    {
        if (Nodename != other.Nodename || RunState != other.RunState || PhysState != other.PhysState || Arch != other.Arch
            || Platform != other.Platform || ParentId != other.ParentId || !BackupParents.AsSpan().SequenceEqual(other.BackupParents.AsSpan()))
        {
            return false;
        }

        var n = Math.Max(_extensions.Length, other._extensions.Length);
        for (var i = 0; i < n; i++)
        {
            var a = GetExtension(i);
            var b = other.GetExtension(i);
            if (!ReferenceEquals(a, b) && (a is null || b is null || !a.Equals(b)))
            {
                return false;
            }
        }

        if (_services.Length != other._services.Length)
        {
            return false;
        }

        for (var i = 0; i < _services.Length; i++)
        {
            if (!_services[i].Equals(other._services[i]))
            {
                return false;
            }
        }

        return true;
    }

    public override string ToString() => $"{Nodename ?? Id.ToString()} v{Version}";
}
