// The original Kraken's node JSON (jsonpb of its Node: lowerCamel fields, enum names, "@type" extensions).
using System.Globalization;
using System.Text.Json;
using Google.Protobuf.Reflection;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Daemon.Api;

/// <summary>
/// Writes a record the way the original's REST API did, so krakenctl and kraken-dashboard can read it:
/// core fields, <c>services</c> as a list of <c>{id, state}</c>, and extensions as a list of objects with
/// <c>"@type": "type.googleapis.com/&lt;message&gt;"</c> (PXE.Client, IPv4.IPv4OverEthernet with ifaces).
/// Extensions the original had no message for (power control) are left out.
/// </summary>
internal static class LegacyNodeJson
{
    private const string TypePrefix = "type.googleapis.com/";

    public static void Write(Utf8JsonWriter w, NodeRecord r)
    {
        w.WriteStartObject();
        w.WriteString("id", r.Id.ToString());
        Core(w, "nodename", r, r.Schema.Nodename);
        Core(w, "runState", r, r.Schema.RunState);
        Core(w, "physState", r, r.Schema.PhysState);
        Core(w, "arch", r, r.Schema.Arch);
        Core(w, "platform", r, r.Schema.Platform);
        Core(w, "parentId", r, r.Schema.ParentId);
        w.WriteStartArray("services");
        foreach (var s in r.Services.ToArray().OrderBy(s => s.Id, StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("id", s.Id);
            if (s.HasState)
            {
                w.WriteString("state", EnumName(Service.Descriptor, "state", (int)s.State));
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("extensions");
        WritePxe(w, r);
        WriteIPv4(w, r);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>[{name, url, options: {"0": "NONE", ...}}] for PhysState, RunState and every enum field of every extension.</summary>
    public static void WriteEnumerables(Utf8JsonWriter w, StateSchema schema)
    {
        w.WriteStartArray();
        Enumerable(w, "PhysState", "physState", Node.Descriptor.FindFieldByName("phys_state").EnumType);
        Enumerable(w, "RunState", "runState", Node.Descriptor.FindFieldByName("run_state").EnumType);
        foreach (var ext in schema.Extensions)
        {
            var typeName = ext.LegacyTypeNames.Count > 0 ? ext.LegacyTypeNames[0] : ext.Descriptor.FullName;
            foreach (var field in ext.Descriptor.Fields.InFieldNumberOrder().Where(f => f.FieldType == FieldType.Enum))
            {
                Enumerable(w, field.EnumType.Name, $"{TypePrefix}{typeName}/{field.JsonName}", field.EnumType);
            }
        }

        w.WriteEndArray();
    }

    private static void Enumerable(Utf8JsonWriter w, string name, string url, EnumDescriptor e)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("url", url);
        w.WriteStartObject("options");
        foreach (var v in e.Values)
        {
            w.WriteString(v.Number.ToString(CultureInfo.InvariantCulture), v.Name);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static string EnumName(MessageDescriptor message, string field, int number) =>
        message.FindFieldByName(field).EnumType.FindValueByNumber(number)?.Name ?? number.ToString(CultureInfo.InvariantCulture);

    private static void Core(Utf8JsonWriter w, string name, NodeRecord r, StateUrl url)
    {
        var v = url.Get(r);
        if (v.IsSet)
        {
            w.WriteString(name, v.ToString());
        }
    }

    private static void WritePxe(Utf8JsonWriter w, NodeRecord r)
    {
        var pxe = r.GetExtension<Pxe>(StandardExtensions.Pxe);
        if (pxe is null)
        {
            return;
        }

        w.WriteStartObject();
        w.WriteString("@type", TypePrefix + StandardExtensions.LegacyPxe);
        if (pxe.HasMethod)
        {
            w.WriteString("method", EnumName(Pxe.Descriptor, "method", (int)pxe.Method));
        }

        if (pxe.HasState)
        {
            w.WriteString("state", EnumName(Pxe.Descriptor, "state", (int)pxe.State));
        }

        w.WriteEndObject();
    }

    private static void WriteIPv4(Utf8JsonWriter w, NodeRecord r)
    {
        var ipv4 = r.GetExtension<IPv4>(StandardExtensions.IPv4);
        if (ipv4 is null || ipv4.Interfaces.Count == 0)
        {
            return;
        }

        w.WriteStartObject();
        w.WriteString("@type", TypePrefix + StandardExtensions.LegacyIPv4);
        w.WriteStartObject("ifaces");
        foreach (var (name, iface) in ipv4.Interfaces.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.WriteStartObject(name);
            w.WriteStartObject("eth");
            if (iface.HasMac)
            {
                w.WriteString("mac", StateValue.FormatMac(iface.Mac));
            }

            if (iface.HasDevice)
            {
                w.WriteString("iface", iface.Device);
            }

            w.WriteEndObject();
            w.WriteStartObject("ip");
            if (iface.HasIp)
            {
                w.WriteString("ip", StateValue.FormatIPv4(iface.Ip));
            }

            if (iface.HasPrefix)
            {
                var mask = iface.Prefix == 0 ? 0u : uint.MaxValue << (32 - (int)iface.Prefix);
                w.WriteString("subnet", StateValue.FormatIPv4(mask));
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }
}
