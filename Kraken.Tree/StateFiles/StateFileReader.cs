// Reads cluster descriptions (ours and the original Kraken's NodeList JSON) into validated node records.
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf.Reflection;
using Kraken.Tree.State;

namespace Kraken.Tree.StateFiles;

/// <summary>The outcome of reading a state file: the records, and every error and warning found.</summary>
public sealed class StateFileContent
{
    internal StateFileContent(IReadOnlyList<NodeRecord> nodes, IReadOnlyList<StateFileError> errors, IReadOnlyList<string> warnings, bool legacy)
    {
        Nodes = nodes;
        Errors = errors;
        Warnings = warnings;
        IsLegacy = legacy;
    }

    /// <summary>The nodes read, in file order (also those with errors, as far as they could be read).</summary>
    public IReadOnlyList<NodeRecord> Nodes { get; }

    public IReadOnlyList<StateFileError> Errors { get; }

    /// <summary>Data that was understood but dropped (for example an original-Kraken extension we do not model).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>True when any node used the original Kraken's form.</summary>
    public bool IsLegacy { get; }

    public bool IsValid => Errors.Count == 0;

    /// <summary>Throws <see cref="StateFileException"/> listing every error, if there is any.</summary>
    public StateFileContent ThrowIfInvalid() => IsValid ? this : throw new StateFileException(Errors);
}

/// <summary>
/// Parses state files. Every node is read and checked in full, so one pass reports every problem in the
/// file with its node and URL. Cross-node checks (unique ids, MACs and addresses; parents that exist; no
/// cycles) run over the whole file, optionally together with the nodes of a store it will be imported into.
/// </summary>
public sealed partial class StateFileReader
{
    private readonly StateSchema _schema;
    private readonly List<StateFileError> _errors = [];
    private readonly List<string> _warnings = [];
    private bool _legacy;

    private StateFileReader(StateSchema schema)
    {
        _schema = schema;
    }

    public static StateFileContent ReadFile(string path, StateSchema? schema = null, IEnumerable<NodeRecord>? existing = null)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new StateFileContent([], [new StateFileError(-1, null, null, $"cannot read '{path}': {ex.Message}")], [], false);
        }

        return Read(bytes, schema, existing);
    }

    public static StateFileContent Read(string json, StateSchema? schema = null, IEnumerable<NodeRecord>? existing = null) =>
        Read(System.Text.Encoding.UTF8.GetBytes(json), schema, existing);

    /// <summary>Reads a state file; <paramref name="existing"/> are nodes already held, which parents may refer to.</summary>
    public static StateFileContent Read(ReadOnlyMemory<byte> utf8, StateSchema? schema = null, IEnumerable<NodeRecord>? existing = null)
    {
        var reader = new StateFileReader(schema ?? StateSchema.Default);

        // JsonDocument checks structure but decodes strings only when asked, where bad UTF-8 would throw: refuse it
        // here, as one error, before anything is read.
        if (InvalidUtf8At(utf8.Span) is { } bad)
        {
            return new StateFileContent([], [new StateFileError(-1, null, null, $"not valid UTF-8 at byte {bad + 1}")], [], false);
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" at line {line + 1}, byte {ex.BytePositionInLine + 1}" : string.Empty;
            return new StateFileContent([], [new StateFileError(-1, null, null, $"not valid JSON{where}: {ex.Message}")], [], false);
        }

        using (doc)
        {
            var nodes = reader.ReadRoot(doc.RootElement);
            reader.CheckAcrossNodes(nodes, existing);
            return new StateFileContent([.. nodes.Select(n => n.Record)], reader._errors, reader._warnings, reader._legacy);
        }
    }

    private static int? InvalidUtf8At(ReadOnlySpan<byte> utf8)
    {
        if (System.Text.Unicode.Utf8.IsValid(utf8))
        {
            return null;
        }

        var i = 0;
        while (System.Text.Rune.DecodeFromUtf8(utf8[i..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
        {
            i += consumed;
        }

        return i;
    }

    private List<(int Index, NodeRecord Record)> ReadRoot(JsonElement root)
    {
        var result = new List<(int Index, NodeRecord Record)>();
        JsonElement nodes;
        if (root.ValueKind == JsonValueKind.Array)
        {
            nodes = root;
        }
        else if (root.ValueKind == JsonValueKind.Object)
        {
            if (!root.TryGetProperty("nodes", out nodes))
            {
                // An empty object is an empty cluster (the original shipped "{}" as its empty state file).
                if (!root.EnumerateObject().Any())
                {
                    return result;
                }

                Error(-1, null, null, "expected a \"nodes\" array at the top level");
                return result;
            }

            foreach (var p in root.EnumerateObject())
            {
                if (p.Name is not ("nodes" or "format"))
                {
                    Error(-1, null, null, $"unknown top-level property \"{p.Name}\"; valid: \"format\", \"nodes\"");
                }
                else if (p.Name == "format" && (p.Value.ValueKind != JsonValueKind.String || p.Value.GetString() != StateFileWriter.Format))
                {
                    Error(-1, null, null, $"unsupported \"format\" {p.Value.GetRawText()}; this version reads \"{StateFileWriter.Format}\"");
                }
            }
        }
        else
        {
            Error(-1, null, null, "expected an object with a \"nodes\" array");
            return result;
        }

        if (nodes.ValueKind != JsonValueKind.Array)
        {
            Error(-1, null, null, "\"nodes\" must be an array");
            return result;
        }

        var index = 0;
        foreach (var element in nodes.EnumerateArray())
        {
            if (ReadNode(index, element) is { } record)
            {
                result.Add((index, record));
            }

            index++;
        }

        return result;
    }

    private void Error(int index, NodeId? node, string? url, string message) => _errors.Add(new StateFileError(index, node, url, message));

    private NodeRecord? ReadNode(int index, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            Error(index, null, null, "a node must be a JSON object");
            return null;
        }

        if (!TryGetProperty(element, "id", "id", out var idElement) || idElement.ValueKind != JsonValueKind.String)
        {
            Error(index, null, "/Id", "every node needs an \"id\" (a UUID string)");
            return null;
        }

        if (!NodeId.TryParse(idElement.GetString(), out var id) || id.IsNil)
        {
            Error(index, null, "/Id", $"\"{idElement.GetString()}\" is not a valid node id (a non-nil UUID)");
            return null;
        }

        var legacy = IsLegacyNode(element);
        _legacy |= legacy;
        var editor = NodeRecord.Empty(id, _schema).Edit();
        var context = new NodeContext(this, index, id, editor, legacy);
        foreach (var property in element.EnumerateObject())
        {
            ReadNodeProperty(context, property);
        }

        var record = editor.Build();
        if (!ValueRules.TryCheckSize(record, out var tooLarge))
        {
            Error(index, id, "/", tooLarge!);
        }

        return record;
    }

    private static bool IsLegacyNode(JsonElement node)
    {
        foreach (var p in node.EnumerateObject())
        {
            if ((p.Name == "extensions" || p.Name == "services") && p.Value.ValueKind == JsonValueKind.Array)
            {
                return true;
            }

            if (p.Name is "run_state" or "phys_state" or "parent_id" or "busy")
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryGetProperty(JsonElement obj, string jsonName, string protoName, out JsonElement value) =>
        obj.TryGetProperty(jsonName, out value) || obj.TryGetProperty(protoName, out value);

    private void ReadNodeProperty(NodeContext context, JsonProperty property)
    {
        var name = property.Name;
        switch (Normalize(name))
        {
            case "id":
                return;
            case "nodename":
                context.SetText(_schema.Nodename, property.Value);
                return;
            case "runstate":
                context.SetText(_schema.RunState, property.Value);
                return;
            case "physstate":
                context.SetText(_schema.PhysState, property.Value);
                return;
            case "arch":
                context.SetText(_schema.Arch, property.Value);
                return;
            case "platform":
                context.SetText(_schema.Platform, property.Value);
                return;
            case "parentid":
                context.SetText(_schema.ParentId, property.Value);
                return;
            case "backupparents":
                ReadBackupParents(context, property.Value);
                return;
            case "extensions":
                if (property.Value.ValueKind == JsonValueKind.Array)
                {
                    ReadLegacyExtensions(context, property.Value);
                }
                else
                {
                    ReadExtensions(context, property.Value);
                }

                return;
            case "services":
                ReadServices(context, property.Value);
                return;
            case "busy" when context.Legacy:
                _warnings.Add($"nodes[{context.Index}] ({context.Id}): \"busy\" is not modelled and was ignored");
                return;
            default:
                Error(context.Index, context.Id, null, $"unknown property \"{name}\"; valid: id, nodename, runState, physState, arch, platform, parentId, backupParents, extensions, services");
                return;
        }
    }

    /// <summary>lowerCamel, PascalCase and snake_case names compare equal.</summary>
    private static string Normalize(string name) => name.Replace("_", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    private void ReadBackupParents(NodeContext context, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            Error(context.Index, context.Id, "/BackupParents", "must be an array of node ids");
            return;
        }

        var ids = ImmutableArray.CreateBuilder<NodeId>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || !NodeId.TryParse(item.GetString(), out var pid) || pid.IsNil)
            {
                Error(context.Index, context.Id, "/BackupParents", $"{item.GetRawText()} is not a valid node id");
                return;
            }

            if (ids.Contains(pid))
            {
                Error(context.Index, context.Id, "/BackupParents", $"{pid} is listed twice");
                return;
            }

            ids.Add(pid);
        }

        if (ids.Count > 0)
        {
            context.Set(_schema.BackupParents, StateValue.FromNodeIds(ids.ToImmutable()));
        }
    }

    private void ReadExtensions(NodeContext context, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Error(context.Index, context.Id, "/Extensions", "must be an object of extension name -> fields");
            return;
        }

        foreach (var ext in value.EnumerateObject())
        {
            var info = _schema.FindExtension(ext.Name);
            if (info is null)
            {
                Error(context.Index, context.Id, $"/Extensions/{ext.Name}", $"unknown extension; registered: {string.Join(", ", _schema.Extensions.Select(e => e.Name))}");
                continue;
            }

            ReadMessage(context, _schema.ExtensionUrl(info.Index), ext.Value);
        }
    }

    private void ReadServices(NodeContext context, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            ReadLegacyServices(context, value);
            return;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Error(context.Index, context.Id, "/Services", "must be an object of service id -> fields");
            return;
        }

        foreach (var service in value.EnumerateObject())
        {
            if (!StateSchema.IsValidKey(service.Name))
            {
                Error(context.Index, context.Id, "/Services", $"\"{service.Name}\" is not a valid service id (letters, digits, '.', '_', ':' and '-')");
                continue;
            }

            ReadMessage(context, _schema.ServiceUrl(service.Name), service.Value);
        }
    }

    /// <summary>
    /// Reads a JSON object into the fields below a container URL, by field JSON or proto name; a
    /// <paramref name="typed"/> object (an entry of the original's "extensions" list) also has "@type".
    /// </summary>
    private void ReadMessage(NodeContext context, StateUrl container, JsonElement value, bool typed = false)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Error(context.Index, context.Id, container.Path, "must be a JSON object");
            return;
        }

        var descriptor = container.Message!;
        foreach (var property in value.EnumerateObject())
        {
            if (typed && property.Name == "@type")
            {
                continue;
            }

            var field = FindField(descriptor, property.Name, container.Kind == UrlKind.Service);
            if (field is null)
            {
                var valid = StateSchema.AddressableFields(descriptor, container.Kind == UrlKind.Service).Select(f => f.JsonName);
                Error(context.Index, context.Id, container.Path, $"unknown field \"{property.Name}\"; valid: {string.Join(", ", valid)}");
                continue;
            }

            StateUrl url;
            try
            {
                url = _schema.Child(container, field.PropertyName);
            }
            catch (StateException ex)
            {
                Error(context.Index, context.Id, container.Path + "/" + field.PropertyName, ex.Message);
                continue;
            }

            if (field.IsMap)
            {
                ReadMap(context, url, property.Value);
            }
            else if (url.IsLeaf)
            {
                context.SetJson(url, property.Value);
            }
            else
            {
                ReadMessage(context, url, property.Value);
            }
        }
    }

    private void ReadMap(NodeContext context, StateUrl mapUrl, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Error(context.Index, context.Id, mapUrl.Path, "must be a JSON object of key -> value");
            return;
        }

        foreach (var entry in value.EnumerateObject())
        {
            StateUrl entryUrl;
            try
            {
                entryUrl = _schema.Child(mapUrl, entry.Name);
            }
            catch (StateException ex)
            {
                Error(context.Index, context.Id, mapUrl.Path + "/" + entry.Name, ex.Message);
                continue;
            }

            if (entryUrl.IsLeaf)
            {
                context.SetJson(entryUrl, entry.Value);
            }
            else
            {
                ReadMessage(context, entryUrl, entry.Value);
            }
        }
    }

    private static FieldDescriptor? FindField(MessageDescriptor descriptor, string name, bool isService)
    {
        var wanted = Normalize(name);
        foreach (var f in StateSchema.AddressableFields(descriptor, isService))
        {
            if (Normalize(f.JsonName) == wanted || Normalize(f.Name) == wanted)
            {
                return f;
            }
        }

        return null;
    }

    /// <summary>The node being read: routes every write through the editor and records errors by URL.</summary>
    private sealed class NodeContext(StateFileReader reader, int index, NodeId id, NodeEditor editor, bool legacy)
    {
        public int Index { get; } = index;

        public NodeId Id { get; } = id;

        /// <summary>Read as the original's JSON: a zero enum means "don't care" (unset).</summary>
        public bool Legacy { get; set; } = legacy;

        public void Set(StateUrl url, StateValue value)
        {
            try
            {
                editor.Set(url, value);
            }
            catch (StateException ex)
            {
                reader.Error(Index, Id, url.Path, StripUrl(ex.Message, url));
            }
        }

        /// <summary>Sets a value from JSON: strings are parsed for the URL's type; numbers and booleans as such.</summary>
        public void SetJson(StateUrl url, JsonElement value)
        {
            var type = url.ValueType!;
            switch (value.ValueKind)
            {
                case JsonValueKind.Null:
                    return;
                case JsonValueKind.String:
                    SetText(url, value);
                    return;
                case JsonValueKind.Number when type.Kind is ValueKind.Enum or ValueKind.Int or ValueKind.UInt:
                    if (type.Kind == ValueKind.UInt && value.TryGetUInt64(out var u))
                    {
                        Set(url, StateValue.FromUInt(u));
                    }
                    else if (type.Kind == ValueKind.Int && value.TryGetInt64(out var l))
                    {
                        Set(url, StateValue.FromInt(l));
                    }
                    else if (type.Kind == ValueKind.Enum && value.TryGetInt32(out var n) && type.EnumType!.FindValueByNumber(n) is not null)
                    {
                        SetEnum(url, StateValue.FromEnum(type.EnumType, n));
                    }
                    else
                    {
                        reader.Error(Index, Id, url.Path, $"{value.GetRawText()} is not valid: expected {type.Describe()}");
                    }

                    return;
                case JsonValueKind.True or JsonValueKind.False when type.Kind == ValueKind.Bool:
                    Set(url, StateValue.FromBool(value.GetBoolean()));
                    return;
                default:
                    reader.Error(Index, Id, url.Path, $"{value.GetRawText()} is not valid: expected {type.Describe()}");
                    return;
            }
        }

        public void SetText(StateUrl url, JsonElement value)
        {
            if (value.ValueKind == JsonValueKind.Number && url.ValueType!.Kind == ValueKind.Enum)
            {
                SetJson(url, value);
                return;
            }

            if (value.ValueKind != JsonValueKind.String)
            {
                reader.Error(Index, Id, url.Path, $"{value.GetRawText()} is not valid: expected {url.ValueType!.Describe()}");
                return;
            }

            var text = value.GetString()!;
            var type = url.ValueType!;
            if (!type.TryParse(text, out var parsed, out var error))
            {
                // The original spelled some names differently (iPXE): accept a case-insensitive match.
                if (type.Kind == ValueKind.Enum && type.EnumType!.Values.FirstOrDefault(v => string.Equals(v.Name, text, StringComparison.OrdinalIgnoreCase)) is { } match)
                {
                    parsed = StateValue.FromEnum(type.EnumType, match.Number);
                }
                else
                {
                    reader.Error(Index, Id, url.Path, error!);
                    return;
                }
            }

            if (parsed.Kind == ValueKind.Enum)
            {
                SetEnum(url, parsed);
            }
            else
            {
                Set(url, parsed);
            }
        }

        // In the original, a zero enum in Cfg meant "don't care"; its files therefore load zero as unset.
        private void SetEnum(StateUrl url, StateValue value)
        {
            if (Legacy && value.EnumNumber == 0)
            {
                return;
            }

            Set(url, value);
        }

        private static string StripUrl(string message, StateUrl url)
        {
            var prefix = $"Invalid value for {url.Path}: ";
            var m = message.StartsWith(prefix, StringComparison.Ordinal) ? message[prefix.Length..] : message;
            return m.TrimEnd('.');
        }
    }

    internal static string FormatNumber(long n) => n.ToString(CultureInfo.InvariantCulture);
}
