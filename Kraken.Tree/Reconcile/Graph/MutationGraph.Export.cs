// Exports of the mutation graph: JSON for the API and tools, Graphviz DOT for people.
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public sealed partial class MutationGraph
{
    /// <summary>
    /// The graph as JSON: <c>mutatorUrls</c>, <c>constraintUrls</c>, <c>mutations</c> (id, module, context,
    /// cost, timeoutSeconds, mutates, requires, excludes, failTo), <c>vertices</c> (id, label, values) and
    /// <c>edges</c> (id, from, to, mutation). Byte-identical for the same declarations.
    /// </summary>
    public string ToJson(bool indented = true)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            WriteJson(w);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteStartArray("mutatorUrls");
        foreach (var u in Catalog.MutatorUrls)
        {
            w.WriteStringValue(u.Path);
        }

        w.WriteEndArray();
        w.WriteStartArray("constraintUrls");
        foreach (var u in Catalog.ConstraintUrls)
        {
            w.WriteStringValue(u.Path);
        }

        w.WriteEndArray();
        w.WriteStartArray("mutations");
        foreach (var m in Catalog.Mutations)
        {
            w.WriteStartObject();
            w.WriteString("id", m.Id);
            w.WriteString("module", m.Module);
            w.WriteString("context", m.Context.ToString());
            w.WriteNumber("cost", m.Cost);
            w.WriteNumber("timeoutSeconds", m.Timeout.TotalSeconds);
            w.WriteStartArray("mutates");
            foreach (var mv in m.Mutates)
            {
                w.WriteStartObject();
                w.WriteString("url", mv.Url.Path);
                w.WriteString("from", mv.From.ToString());
                w.WriteString("to", mv.To.ToString());
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WritePairs(w, "requires", m.Requires);
            WritePairs(w, "excludes", m.Excludes);
            if (m.FailToUrl is { } failUrl)
            {
                w.WriteStartObject("failTo");
                w.WriteString("url", failUrl.Path);
                w.WriteString("value", m.FailToValue.ToString());
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("vertices");
        foreach (var v in Vertices)
        {
            w.WriteStartObject();
            w.WriteNumber("id", v.Id);
            w.WriteString("label", v.Label);
            w.WriteStartObject("values");
            foreach (var (url, value) in v.Values)
            {
                w.WriteString(url.Path, value.ToString());
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("edges");
        foreach (var e in Edges)
        {
            w.WriteStartObject();
            w.WriteNumber("id", e.Id);
            w.WriteNumber("from", e.From);
            w.WriteNumber("to", e.To);
            w.WriteString("mutation", e.Mutation.Id);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// The graph in Graphviz DOT: one box per vertex listing its known values, one arrow per edge labelled with
    /// the mutation id, its module and context, and the constraints it needs. Render with <c>dot -Tsvg</c>.
    /// </summary>
    public string ToDot()
    {
        var sb = new StringBuilder();
        sb.AppendLine("digraph mutations {");
        sb.AppendLine("  rankdir=LR;");
        sb.AppendLine("  node [shape=box, fontname=\"monospace\"];");
        foreach (var v in Vertices)
        {
            var label = v.Values.Length == 0 ? "(nothing known)" : string.Join("\n", v.Values.Select(kv => $"{kv.Key.Path}={kv.Value}"));
            sb.Append(CultureInfo.InvariantCulture, $"  v{v.Id} [label=\"{Escape(label)}\"];").AppendLine();
        }

        foreach (var e in Edges)
        {
            var m = e.Mutation;
            var label = new StringBuilder(m.Id).Append('\n').Append(m.Module).Append(", ").Append(m.Context);
            foreach (var (url, value) in m.Requires.Where(r => Layout.IndexOf(r.Key) < 0))
            {
                label.Append('\n').Append(url.Path).Append('=').Append(value);
            }

            foreach (var (url, value) in m.Excludes.Where(r => Layout.IndexOf(r.Key) < 0))
            {
                label.Append('\n').Append(url.Path).Append("!=").Append(value);
            }

            sb.Append(CultureInfo.InvariantCulture, $"  v{e.From} -> v{e.To} [label=\"{Escape(label.ToString())}\"];").AppendLine();
        }

        sb.AppendLine("}");
        return sb.ToString();
    }

    private static void WritePairs(Utf8JsonWriter w, string name, IEnumerable<KeyValuePair<StateUrl, StateValue>> pairs)
    {
        w.WriteStartArray(name);
        foreach (var (url, value) in pairs)
        {
            w.WriteStartObject();
            w.WriteString("url", url.Path);
            w.WriteString("value", value.ToString());
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static string Escape(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
