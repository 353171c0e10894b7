// Writes cluster descriptions as JSON in a stable order, so exports diff cleanly and round-trip exactly.
using System.Buffers;
using System.Collections;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Kraken.Tree.State;

namespace Kraken.Tree.StateFiles;

public static class StateFileWriter
{
    /// <summary>The value of the top-level "format" property.</summary>
    public const string Format = "kraken-state/1";

    private static readonly JsonWriterOptions s_options = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Nodes sorted by id; fields in schema order; map keys and services sorted; empty containers left out.</summary>
    public static void Write(IEnumerable<NodeRecord> nodes, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, s_options);
        writer.WriteStartObject();
        writer.WriteString("format", Format);
        writer.WriteStartArray("nodes");
        foreach (var node in nodes.OrderBy(n => n.Id))
        {
            WriteNode(writer, node);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        output.Write("\n"u8);
    }

    /// <summary>
    /// The same bytes as <see cref="Write(IEnumerable{NodeRecord}, IBufferWriter{byte})"/>, written to
    /// <paramref name="output"/> as the nodes are read: at most about <paramref name="flushBytes"/> are held before
    /// they go out, so the document is never built whole (an export of the whole cluster costs a buffer, not its size).
    /// </summary>
    public static async Task WriteAsync(IEnumerable<NodeRecord> nodes, Stream output, CancellationToken cancellationToken, int flushBytes = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(output);
        await using var writer = new Utf8JsonWriter(output, s_options);
        writer.WriteStartObject();
        writer.WriteString("format", Format);
        writer.WriteStartArray("nodes");
        foreach (var node in nodes.OrderBy(n => n.Id))
        {
            WriteNode(writer, node);
            if (writer.BytesPending >= flushBytes)
            {
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public static string WriteToString(IEnumerable<NodeRecord> nodes)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(nodes, buffer);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static void WriteFile(string path, IEnumerable<NodeRecord> nodes)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(nodes, buffer);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, buffer.WrittenSpan.ToArray());
        File.Move(temp, path, overwrite: true);
    }

    public static void WriteNode(Utf8JsonWriter writer, NodeRecord node)
    {
        writer.WriteStartObject();
        writer.WriteString("id", node.Id.ToString());
        WriteCore(writer, "nodename", node.Schema.Nodename, node);
        WriteCore(writer, "runState", node.Schema.RunState, node);
        WriteCore(writer, "physState", node.Schema.PhysState, node);
        WriteCore(writer, "arch", node.Schema.Arch, node);
        WriteCore(writer, "platform", node.Schema.Platform, node);
        WriteCore(writer, "parentId", node.Schema.ParentId, node);
        if (!node.BackupParents.IsEmpty)
        {
            writer.WriteStartArray("backupParents");
            foreach (var b in node.BackupParents)
            {
                writer.WriteStringValue(b.ToString());
            }

            writer.WriteEndArray();
        }

        var extensions = node.ExtensionArray;
        var wroteExtensions = false;
        for (var i = 0; i < extensions.Length; i++)
        {
            if (extensions[i] is not { } ext || !HasValues(ext, isService: false))
            {
                continue;
            }

            if (!wroteExtensions)
            {
                writer.WriteStartObject("extensions");
                wroteExtensions = true;
            }

            writer.WritePropertyName(node.Schema.Extensions[i].Name);
            WriteMessage(writer, ext, isService: false);
        }

        if (wroteExtensions)
        {
            writer.WriteEndObject();
        }

        var services = node.Services;
        var wroteServices = false;
        foreach (var svc in services)
        {
            if (!HasValues(svc, isService: true))
            {
                continue;
            }

            if (!wroteServices)
            {
                writer.WriteStartObject("services");
                wroteServices = true;
            }

            writer.WritePropertyName(svc.Id);
            WriteMessage(writer, svc, isService: true);
        }

        if (wroteServices)
        {
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    private static void WriteCore(Utf8JsonWriter writer, string name, StateUrl url, NodeRecord node)
    {
        var v = url.Get(node);
        if (v.IsSet)
        {
            writer.WriteString(name, v.ToString());
        }
    }

    private static bool HasValues(IMessage message, bool isService)
    {
        foreach (var field in StateSchema.AddressableFields(message.Descriptor, isService))
        {
            if (field.IsMap)
            {
                foreach (DictionaryEntry e in (IDictionary)field.Accessor.GetValue(message))
                {
                    if (e.Value is not IMessage m || HasValues(m, false))
                    {
                        return true;
                    }
                }
            }
            else if (field.FieldType == FieldType.Message)
            {
                if (field.Accessor.GetValue(message) is IMessage m && HasValues(m, false))
                {
                    return true;
                }
            }
            else if (field.HasPresence ? field.Accessor.HasValue(message) : !Equals(field.Accessor.GetValue(message), DefaultOf(field)))
            {
                return true;
            }
        }

        return false;
    }

    private static object? DefaultOf(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => string.Empty,
        FieldType.Bool => false,
        _ => null,
    };

    /// <summary>
    /// True when an extension message holds any value a state file would write (the original's node JSON writes an
    /// extension it cannot express in its own messages with these fields).
    /// </summary>
    public static bool HasExtensionValues(IMessage extension) => HasValues(extension, isService: false);

    /// <summary>
    /// The fields of an extension message as a state file writes them, as properties of the JSON object being
    /// written: the original's node JSON carries them in an entry of its "extensions" list, after "@type".
    /// </summary>
    public static void WriteExtensionFields(Utf8JsonWriter writer, IMessage extension)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(extension);
        WriteFields(writer, extension, isService: false);
    }

    private static void WriteMessage(Utf8JsonWriter writer, IMessage message, bool isService)
    {
        writer.WriteStartObject();
        WriteFields(writer, message, isService);
        writer.WriteEndObject();
    }

    private static void WriteFields(Utf8JsonWriter writer, IMessage message, bool isService)
    {
        foreach (var field in StateSchema.AddressableFields(message.Descriptor, isService))
        {
            if (field.IsMap)
            {
                var map = (IDictionary)field.Accessor.GetValue(message);
                var entries = new List<(string Key, object Value)>();
                foreach (DictionaryEntry e in map)
                {
                    if (e.Value is not IMessage m || HasValues(m, false))
                    {
                        entries.Add((Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture)!, e.Value!));
                    }
                }

                if (entries.Count == 0)
                {
                    continue;
                }

                entries.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
                writer.WriteStartObject(field.JsonName);
                var valueField = field.MessageType.FindFieldByNumber(2);
                foreach (var (key, value) in entries)
                {
                    writer.WritePropertyName(key);
                    if (value is IMessage m)
                    {
                        WriteMessage(writer, m, false);
                    }
                    else
                    {
                        WriteScalar(writer, StateUrl.FromClr(value, StateSchema.LeafType(valueField)!));
                    }
                }

                writer.WriteEndObject();
            }
            else if (field.FieldType == FieldType.Message)
            {
                if (field.Accessor.GetValue(message) is IMessage m && HasValues(m, false))
                {
                    writer.WritePropertyName(field.JsonName);
                    WriteMessage(writer, m, false);
                }
            }
            else if (StateSchema.LeafType(field) is { } type)
            {
                var v = StateUrl.ReadField(message, field, type);
                if (v.IsSet)
                {
                    writer.WritePropertyName(field.JsonName);
                    WriteScalar(writer, v);
                }
            }
        }
    }

    private static void WriteScalar(Utf8JsonWriter writer, StateValue v)
    {
        switch (v.Kind)
        {
            case ValueKind.Bool:
                writer.WriteBooleanValue(v.Bool);
                break;
            case ValueKind.Int:
                writer.WriteNumberValue(v.Int);
                break;
            case ValueKind.UInt:
                writer.WriteNumberValue(v.UInt);
                break;
            default:
                writer.WriteStringValue(v.ToString());
                break;
        }
    }
}
