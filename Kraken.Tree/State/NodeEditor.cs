// Builds the next version of a node record: copy-on-write, validated per URL.
using System.Collections;
using System.Collections.Immutable;
using Google.Protobuf;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.State;

/// <summary>
/// A mutable draft of a <see cref="NodeRecord"/>. Writes are checked against each URL's type; a bad
/// write throws <see cref="StateException"/> and leaves the draft as it was. Messages shared with the
/// source record are cloned before their first change, so the source is never modified.
/// </summary>
public sealed class NodeEditor
{
    private readonly NodeRecord _source;
    private readonly StateSchema _schema;
    private string? _nodename;
    private RunState? _runState;
    private PhysState? _physState;
    private string? _arch;
    private string? _platform;
    private NodeId? _parentId;
    private ImmutableArray<NodeId> _backupParents;
    private IMessage?[] _extensions;
    private ulong _ownedExtensions;
    private List<Service>? _services;
    private HashSet<string>? _ownedServices;

    internal NodeEditor(NodeRecord source)
    {
        _source = source;
        _schema = source.Schema;
        _nodename = source.Nodename;
        _runState = source.RunState;
        _physState = source.PhysState;
        _arch = source.Arch;
        _platform = source.Platform;
        _parentId = source.ParentId;
        _backupParents = source.BackupParents;
        _extensions = source.ExtensionArray;
    }

    public NodeId Id => _source.Id;

    /// <summary>Sets (or with <see cref="StateValue.None"/>, clears) the value at <paramref name="url"/>.</summary>
    public NodeEditor Set(StateUrl url, StateValue value)
    {
        if (!ReferenceEquals(url.Schema, _schema))
        {
            throw new ArgumentException($"{url.Path} belongs to another schema.", nameof(url));
        }

        if (url.ReadOnly)
        {
            throw new InvalidStateValueException(url.Path, $"{url.Path} is read-only.") { Node = Id };
        }

        if (!url.IsLeaf)
        {
            if (value.IsSet)
            {
                throw new InvalidStateValueException(url.Path, $"{url.Path} is a container; set the values below it, or clear it with an empty value.") { Node = Id };
            }

            ClearContainer(url);
            return this;
        }

        if (!url.ValueType!.TryCheck(value, out var checkedValue, out var error))
        {
            throw new InvalidStateValueException(url.Path, $"Invalid value for {url.Path}: {error}.") { Node = Id };
        }

        switch (url.Kind)
        {
            case UrlKind.CoreField:
                SetCore(url.Core, checkedValue);
                break;
            case UrlKind.ServiceField:
                SetServiceField(url, checkedValue);
                break;
            default:
                SetExtensionValue(url, checkedValue);
                break;
        }

        return this;
    }

    /// <summary>Parses <paramref name="text"/> for the URL's type, then sets it; empty text clears.</summary>
    public NodeEditor Set(string url, string text)
    {
        var resolved = _schema.Resolve(url);
        return Set(resolved, Parse(resolved, text));
    }

    /// <summary>Parses text for a URL, with an error that names the URL and what is valid.</summary>
    public static StateValue Parse(StateUrl url, string text)
    {
        if (text.Length == 0 || !url.IsLeaf)
        {
            return default;
        }

        if (!url.ValueType!.TryParse(text, out var value, out var error))
        {
            throw new InvalidStateValueException(url.Path, $"Invalid value for {url.Path}: {error}.");
        }

        return value;
    }

    private void SetCore(CoreField field, StateValue value)
    {
        switch (field)
        {
            case CoreField.Nodename:
                _nodename = value.IsSet ? Intern(value.String) : null;
                break;
            case CoreField.RunState:
                _runState = value.IsSet ? (RunState)value.EnumNumber : null;
                break;
            case CoreField.PhysState:
                _physState = value.IsSet ? (PhysState)value.EnumNumber : null;
                break;
            case CoreField.Arch:
                _arch = value.IsSet ? Intern(value.String) : null;
                break;
            case CoreField.Platform:
                _platform = value.IsSet ? Intern(value.String) : null;
                break;
            case CoreField.ParentId:
                if (value.IsSet && value.NodeId == Id)
                {
                    throw new InvalidStateValueException("/ParentId", "A node cannot be its own parent.") { Node = Id };
                }

                _parentId = value.IsSet ? value.NodeId : null;
                break;
            case CoreField.BackupParents:
                if (value.IsSet && value.NodeIds.Contains(Id))
                {
                    throw new InvalidStateValueException("/BackupParents", "A node cannot be its own backup parent.") { Node = Id };
                }

                _backupParents = value.IsSet ? value.NodeIds : [];
                break;
            default:
                throw new InvalidOperationException($"Core field {field} cannot be set.");
        }
    }

    // Short, repeated strings (arch, platform, driver names) are shared across the cluster's records.
    private static string Intern(string s) => s.Length <= 32 ? string.Intern(s) : s;

    private IMessage OwnedExtension(int index, bool create)
    {
        if (_extensions.Length <= index)
        {
            Array.Resize(ref _extensions, _schema.Extensions.Length);
            _ownedExtensions |= 1UL << 63; // array itself is now private
        }
        else if ((_ownedExtensions & (1UL << 63)) == 0)
        {
            _extensions = (IMessage?[])_extensions.Clone();
            _ownedExtensions |= 1UL << 63;
        }

        var bit = 1UL << index;
        var current = _extensions[index];
        if (current is null)
        {
            if (!create)
            {
                return null!;
            }

            current = StateSchema.NewMessage(_schema.Extensions[index].Descriptor);
            _extensions[index] = current;
            _ownedExtensions |= bit;
        }
        else if ((_ownedExtensions & bit) == 0)
        {
            current = Clone(current);
            _extensions[index] = current;
            _ownedExtensions |= bit;
        }

        return current;
    }

    private static IMessage Clone(IMessage message) => message.Descriptor.Parser.ParseFrom(message.ToByteString());

    private static List<StateUrl> Chain(StateUrl leaf, UrlKind rootKind)
    {
        var chain = new List<StateUrl>(4);
        for (var u = leaf; u is not null && u.Kind != rootKind; u = u.Parent)
        {
            chain.Add(u);
        }

        chain.Reverse();
        return chain;
    }

    private void SetExtensionValue(StateUrl url, StateValue value)
    {
        var exists = _extensions.Length > url.ExtensionIndex && _extensions[url.ExtensionIndex] is not null;
        if (!value.IsSet && !exists)
        {
            return;
        }

        var message = OwnedExtension(url.ExtensionIndex, create: true);
        var chain = Chain(url, UrlKind.Extension);
        var target = Descend(message, chain, create: value.IsSet);
        if (target is null)
        {
            return;
        }

        WriteLeaf(target, url, value);
    }

    /// <summary>Walks (and creates, when asked) the messages above the last URL of the chain.</summary>
    private static IMessage? Descend(IMessage message, List<StateUrl> chain, bool create)
    {
        for (var i = 0; i < chain.Count - 1; i++)
        {
            var step = chain[i];
            if (step.Kind == UrlKind.MapEntry)
            {
                var map = (IDictionary)step.Field!.Accessor.GetValue(message);
                var key = StateUrl.ConvertKey(step.Field, step.Key!)!;
                if (!map.Contains(key))
                {
                    if (!create)
                    {
                        return null;
                    }

                    map[key] = StateSchema.NewMessage(step.Message!);
                }

                message = (IMessage)map[key]!;
            }
            else if (step.Field!.IsMap)
            {
                // The map field itself: the next step (an entry) does the lookup.
                continue;
            }
            else
            {
                var child = (IMessage?)step.Field.Accessor.GetValue(message);
                if (child is null)
                {
                    if (!create)
                    {
                        return null;
                    }

                    child = StateSchema.NewMessage(step.Field.MessageType);
                    step.Field.Accessor.SetValue(message, child);
                }

                message = child;
            }
        }

        return message;
    }

    private static void WriteLeaf(IMessage target, StateUrl url, StateValue value)
    {
        if (url.Kind == UrlKind.MapEntry)
        {
            var map = (IDictionary)url.Field!.Accessor.GetValue(target);
            var key = StateUrl.ConvertKey(url.Field, url.Key!)!;
            if (value.IsSet)
            {
                map[key] = StateUrl.ToClr(value, url.Field.MessageType.FindFieldByNumber(2));
            }
            else
            {
                map.Remove(key);
            }

            return;
        }

        if (value.IsSet)
        {
            url.Field!.Accessor.SetValue(target, StateUrl.ToClr(value, url.Field));
        }
        else
        {
            url.Field!.Accessor.Clear(target);
        }
    }

    private void ClearContainer(StateUrl url)
    {
        switch (url.Kind)
        {
            case UrlKind.Extension:
                if (_extensions.Length > url.ExtensionIndex && _extensions[url.ExtensionIndex] is not null)
                {
                    OwnedExtension(url.ExtensionIndex, create: false);
                    _extensions[url.ExtensionIndex] = null;
                }

                break;
            case UrlKind.Services:
                _services = [];
                break;
            case UrlKind.Service:
                EnsureServices().RemoveAll(s => s.Id == url.Key);
                break;
            case UrlKind.ExtensionField or UrlKind.MapEntry:
                if (_extensions.Length <= url.ExtensionIndex || _extensions[url.ExtensionIndex] is null)
                {
                    return;
                }

                var message = OwnedExtension(url.ExtensionIndex, create: false);
                var chain = Chain(url, UrlKind.Extension);
                var target = Descend(message, chain, create: false);
                if (target is null)
                {
                    return;
                }

                if (url.Kind == UrlKind.MapEntry)
                {
                    var map = (IDictionary)url.Field!.Accessor.GetValue(target);
                    map.Remove(StateUrl.ConvertKey(url.Field, url.Key!)!);
                }
                else
                {
                    url.Field!.Accessor.Clear(target);
                }

                break;
        }
    }

    private List<Service> EnsureServices()
    {
        if (_services is null)
        {
            _services = [.. _source.ServiceArray];
        }

        return _services;
    }

    private void SetServiceField(StateUrl url, StateValue value)
    {
        var id = url.Parent!.Key!;
        var services = EnsureServices();
        var index = services.FindIndex(s => s.Id == id);
        if (index < 0 && !value.IsSet)
        {
            return;
        }

        _ownedServices ??= new HashSet<string>(StringComparer.Ordinal);
        Service service;
        if (index < 0)
        {
            service = new Service { Id = string.Intern(id) };
            var insertAt = services.FindIndex(s => string.CompareOrdinal(s.Id, id) > 0);
            services.Insert(insertAt < 0 ? services.Count : insertAt, service);
            _ownedServices.Add(id);
        }
        else if (_ownedServices.Add(id))
        {
            service = services[index].Clone();
            services[index] = service;
        }
        else
        {
            service = services[index];
        }

        WriteLeaf(service, url, value);
    }

    /// <summary>Freezes the draft into a new record carrying the source's version (the store assigns the next).</summary>
    public NodeRecord Build()
    {
        // Trim trailing empty extension slots so equal records compare equal.
        var extensions = _extensions;
        var n = extensions.Length;
        while (n > 0 && extensions[n - 1] is null)
        {
            n--;
        }

        if (n != extensions.Length)
        {
            extensions = extensions[..n];
        }

        _ownedExtensions = 0;
        // The built record shares the messages now: the next write to any of them clones again.
        var services = _services is null ? _source.ServiceArray : [.. _services];
        _ownedServices = null;
        return new NodeRecord(_schema, _source.Id, _source.Version, _nodename, _runState, _physState, _arch, _platform, _parentId, _backupParents, extensions, services);
    }
}
