// The original Kraken's node JSON (jsonpb of its Node: lowerCamel fields, enum names, "@type" extensions).
using System.Globalization;
using System.Text.Json;
using Google.Protobuf.Reflection;
using Google.Protobuf;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.StateFiles;

namespace Kraken.Daemon.Api;

/// <summary>
/// Writes a record the way the original's REST API did, so krakenctl and kraken-dashboard can read it:
/// core fields, <c>services</c> as a list of <c>{id, state}</c>, and extensions as a list of objects with
/// <c>"@type": "type.googleapis.com/&lt;message&gt;"</c> (PXE.Client, IPv4.IPv4OverEthernet with ifaces, and the
/// power settings as VBox.VirtualMachine, Powerman.Control or PowerAPI.Node by driver).
/// </summary>
/// <remarks>
/// What the original's messages cannot carry goes into entries of our own messages, so that a GET then PUT of this
/// JSON keeps every value: an extension with a value the original has no field for (an interface's gateway, a power
/// port, user or credential, a driver it did not have, any extension a module registered) is written whole as
/// <c>{"@type": "type.googleapis.com/kraken.ext.&lt;Name&gt;", ...}</c> in the state file's field names, and the
/// node's backup parents and enum values set to their zero (which the original read as "don't care") as
/// <c>{"@type": "type.googleapis.com/kraken.Node", ...}</c>. The original skipped extension types it did not know,
/// so its clients read the rest as before.
/// </remarks>
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
        WritePower(w, r);
        WriteOwnExtensions(w, r);
        WriteNodeEntry(w, r);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Each extension with a value the original's message for it cannot carry, whole, under our message name.</summary>
    private static void WriteOwnExtensions(Utf8JsonWriter w, NodeRecord r)
    {
        foreach (var info in r.Schema.Extensions)
        {
            if (r.GetExtension(info.Index) is not { } ext || !StateFileWriter.HasExtensionValues(ext) || OriginalCarriesAll(info.Name, ext))
            {
                continue;
            }

            w.WriteStartObject();
            w.WriteString("@type", TypePrefix + info.Descriptor.FullName);
            StateFileWriter.WriteExtensionFields(w, ext);
            w.WriteEndObject();
        }
    }

    private static bool OriginalCarriesAll(string extension, IMessage ext) => (extension, ext) switch
    {
        (StandardExtensions.IPv4, IPv4 ipv4) => !HasGateway(ipv4),
        (StandardExtensions.Pxe, Pxe pxe) => !(pxe.HasMethod && pxe.Method == 0) && !(pxe.HasState && pxe.State == 0),
        (StandardExtensions.Power, Power power) => LegacyPowerType(power) is not null && !power.HasPort && !power.HasUser && !power.HasCredential,
        _ => false,
    };

    private static bool HasGateway(IPv4 ipv4)
    {
        foreach (var (_, iface) in ipv4.Interfaces)
        {
            if (iface.HasGateway)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The original's message for a power driver it had, or null.</summary>
    private static string? LegacyPowerType(Power power) => power.HasDriver ? power.Driver switch
    {
        "vbox" => StandardExtensions.LegacyVBox,
        "powerman" => StandardExtensions.LegacyPowerman,
        "powerapi" => StandardExtensions.LegacyPowerApi,
        _ => null,
    } : null;

    /// <summary>The original's power message: the driver is its type, the address its apiServer, the system its VM or node name.</summary>
    private static void WritePower(Utf8JsonWriter w, NodeRecord r)
    {
        if (r.GetExtension<Power>(StandardExtensions.Power) is not { } power || LegacyPowerType(power) is not { } type)
        {
            return;
        }

        w.WriteStartObject();
        w.WriteString("@type", TypePrefix + type);
        if (power.HasAddress)
        {
            w.WriteString("apiServer", power.Address);
        }

        if (power.HasSystem)
        {
            w.WriteString(type == StandardExtensions.LegacyVBox ? "vmName" : "nodeName", power.System);
        }

        w.WriteEndObject();
    }

    /// <summary>Backup parents, and core and service enums set to zero: what the original's node had no place for.</summary>
    private static void WriteNodeEntry(Utf8JsonWriter w, NodeRecord r)
    {
        var zeroRun = r.RunState == 0;
        var zeroPhys = r.PhysState == 0;
        var zeroServices = false;
        foreach (var s in r.Services)
        {
            zeroServices |= s.HasState && s.State == 0;
        }

        if (!zeroRun && !zeroPhys && !zeroServices && r.BackupParents.IsEmpty)
        {
            return;
        }

        w.WriteStartObject();
        w.WriteString("@type", TypePrefix + StateFileReader.NodeEntryType);
        if (zeroRun)
        {
            Core(w, "runState", r, r.Schema.RunState);
        }

        if (zeroPhys)
        {
            Core(w, "physState", r, r.Schema.PhysState);
        }

        if (!r.BackupParents.IsEmpty)
        {
            w.WriteStartArray("backupParents");
            foreach (var b in r.BackupParents)
            {
                w.WriteStringValue(b.ToString());
            }

            w.WriteEndArray();
        }

        if (zeroServices)
        {
            w.WriteStartObject("services");
            foreach (var s in r.Services)
            {
                if (s.HasState && s.State == 0)
                {
                    w.WriteStartObject(s.Id);
                    w.WriteString("state", EnumName(Service.Descriptor, "state", 0));
                    w.WriteEndObject();
                }
            }

            w.WriteEndObject();
        }

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
        if (ipv4 is null || (ipv4.Interfaces.Count == 0 && !ipv4.HasHostname))
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

            if (iface.HasMtu)
            {
                w.WriteNumber("mtu", iface.Mtu);
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
        if (ipv4.HasHostname)
        {
            // The original's DNSA record: {hostname: {hostname: ...}}.
            w.WriteStartObject("hostname");
            w.WriteString("hostname", ipv4.Hostname);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }
}
