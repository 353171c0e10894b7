// The original Kraken's NodeList JSON: "@type" extensions and service lists, mapped onto our extensions.
using System.Text.Json;
using Kraken.Tree.State;

namespace Kraken.Tree.StateFiles;

public sealed partial class StateFileReader
{
    private void ReadLegacyExtensions(NodeContext context, JsonElement array)
    {
        foreach (var ext in array.EnumerateArray())
        {
            if (ext.ValueKind != JsonValueKind.Object || !ext.TryGetProperty("@type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                Error(context.Index, context.Id, "/Extensions", "each entry of an \"extensions\" list needs an \"@type\"");
                continue;
            }

            var typeUrl = typeElement.GetString()!;
            var slash = typeUrl.LastIndexOf('/');
            var typeName = slash >= 0 ? typeUrl[(slash + 1)..] : typeUrl;
            switch (typeName)
            {
                case StandardExtensions.LegacyIPv4:
                    ReadLegacyIPv4(context, ext);
                    break;
                case StandardExtensions.LegacyPxe:
                    ReadLegacyFields(context, ext, typeName, StandardExtensions.Pxe, static n => n switch
                    {
                        "method" => "Method",
                        "state" => "State",
                        _ => null,
                    });
                    break;
                case StandardExtensions.LegacyVBox:
                    SetPowerDriver(context, "vbox");
                    ReadLegacyFields(context, ext, typeName, StandardExtensions.Power, static n => n switch
                    {
                        "apiserver" => "Address",
                        "vmname" => "System",
                        "uuid" => string.Empty,
                        _ => null,
                    });
                    break;
                case StandardExtensions.LegacyPowerman:
                case StandardExtensions.LegacyPowerApi:
                    SetPowerDriver(context, typeName == StandardExtensions.LegacyPowerman ? "powerman" : "powerapi");
                    ReadLegacyFields(context, ext, typeName, StandardExtensions.Power, static n => n switch
                    {
                        "apiserver" => "Address",
                        "nodename" => "System",
                        "nodeuri" => string.Empty,
                        _ => null,
                    });
                    break;
                case NodeEntryType:
                    ReadExactly(context, () => ReadNodeEntry(context, ext));
                    break;
                default:
                    if (_schema.Extensions.FirstOrDefault(e => e.Descriptor.FullName == typeName) is { } info)
                    {
                        // One of ours by its message name: the fields the original's messages cannot carry.
                        ReadExactly(context, () => ReadMessage(context, _schema.ExtensionUrl(info.Index), ext, typed: true));
                        break;
                    }

                    _warnings.Add($"nodes[{context.Index}] ({context.Id}): extension {typeUrl} has no counterpart here and was ignored");
                    break;
            }
        }
    }

    /// <summary>
    /// The "@type" of the entry in which the original's node JSON, as this daemon writes it, carries the values the
    /// original could not express: backup parents and enum values set to their zero (which the original read as unset).
    /// </summary>
    public const string NodeEntryType = "kraken.Node";

    /// <summary>Reads typed entries as our own format: a zero enum there is a value, not the original's "don't care".</summary>
    private static void ReadExactly(NodeContext context, Action read)
    {
        var legacy = context.Legacy;
        context.Legacy = false;
        try
        {
            read();
        }
        finally
        {
            context.Legacy = legacy;
        }
    }

    private void ReadNodeEntry(NodeContext context, JsonElement entry)
    {
        foreach (var p in entry.EnumerateObject())
        {
            switch (Normalize(p.Name))
            {
                case "@type":
                    break;
                case "runstate" or "physstate" or "backupparents" or "services":
                    ReadNodeProperty(context, p);
                    break;
                default:
                    Error(context.Index, context.Id, $"{StateSchema.LegacyTypePrefix}/{NodeEntryType}", $"unknown field \"{p.Name}\"; valid: runState, physState, backupParents, services");
                    break;
            }
        }
    }

    private void SetPowerDriver(NodeContext context, string driver) =>
        context.Set(_schema.Resolve("/Extensions/Power/Driver"), StateValue.FromString(driver));

    /// <summary>Copies flat legacy fields to ours; a mapping to "" drops the field with a warning, null is an error.</summary>
    private void ReadLegacyFields(NodeContext context, JsonElement ext, string typeName, string extension, Func<string, string?> map)
    {
        foreach (var p in ext.EnumerateObject())
        {
            if (p.Name == "@type")
            {
                continue;
            }

            var target = map(Normalize(p.Name));
            if (target is null)
            {
                Error(context.Index, context.Id, $"{StateSchema.LegacyTypePrefix}/{typeName}", $"unknown field \"{p.Name}\"");
                continue;
            }

            if (target.Length == 0)
            {
                _warnings.Add($"nodes[{context.Index}] ({context.Id}): {typeName} field \"{p.Name}\" is not modelled and was ignored");
                continue;
            }

            context.SetJson(_schema.Resolve($"/Extensions/{extension}/{target}"), p.Value);
        }
    }

    private void ReadLegacyIPv4(NodeContext context, JsonElement ext)
    {
        foreach (var p in ext.EnumerateObject())
        {
            switch (Normalize(p.Name))
            {
                case "@type":
                    continue;
                case "ifaces":
                    if (p.Value.ValueKind != JsonValueKind.Object)
                    {
                        Error(context.Index, context.Id, "/Extensions/IPv4/Interfaces", "\"ifaces\" must be an object");
                        continue;
                    }

                    foreach (var iface in p.Value.EnumerateObject())
                    {
                        ReadLegacyInterface(context, iface.Name, iface.Value);
                    }

                    break;
                case "hostname":
                    if (p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("hostname", out var host))
                    {
                        context.SetJson(_schema.Resolve("/Extensions/IPv4/Hostname"), host);
                    }

                    break;
                default:
                    _warnings.Add($"nodes[{context.Index}] ({context.Id}): IPv4OverEthernet field \"{p.Name}\" is not modelled and was ignored");
                    break;
            }
        }
    }

    private void ReadLegacyInterface(NodeContext context, string name, JsonElement value)
    {
        var baseUrl = $"/Extensions/IPv4/Interfaces/{name}";
        if (!StateSchema.IsValidKey(name) || value.ValueKind != JsonValueKind.Object)
        {
            Error(context.Index, context.Id, baseUrl, "an interface needs a valid name and an object value");
            return;
        }

        foreach (var part in value.EnumerateObject())
        {
            if (part.Value.ValueKind != JsonValueKind.Object)
            {
                Error(context.Index, context.Id, baseUrl, $"\"{part.Name}\" must be an object");
                continue;
            }

            foreach (var f in part.Value.EnumerateObject())
            {
                var key = (Normalize(part.Name), Normalize(f.Name));
                var target = key switch
                {
                    ("eth", "iface") => "Device",
                    ("eth", "mac") => "Mac",
                    ("eth", "mtu") => "Mtu",
                    ("eth", "control") => string.Empty,
                    ("ip", "ip") => "Ip",
                    ("ip", "subnet") => "Prefix",
                    _ => null,
                };
                if (target is null)
                {
                    Error(context.Index, context.Id, baseUrl, $"unknown field \"{part.Name}.{f.Name}\"");
                }
                else if (target.Length == 0)
                {
                    _warnings.Add($"nodes[{context.Index}] ({context.Id}): interface {name} field \"{part.Name}.{f.Name}\" is not modelled and was ignored");
                }
                else if (target == "Prefix")
                {
                    SetPrefixFromMask(context, baseUrl + "/Prefix", f.Value);
                }
                else
                {
                    context.SetJson(_schema.Resolve(baseUrl + "/" + target), f.Value);
                }
            }
        }
    }

    private void SetPrefixFromMask(NodeContext context, string url, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String || !StateValue.TryParseIPv4(value.GetString(), out var mask) || !IsContiguousMask(mask))
        {
            Error(context.Index, context.Id, url, $"{value.GetRawText()} is not a valid subnet mask such as 255.255.255.0");
            return;
        }

        context.Set(_schema.Resolve(url), StateValue.FromUInt((ulong)System.Numerics.BitOperations.PopCount(mask)));
    }

    private static bool IsContiguousMask(uint mask) => (~mask & (~mask + 1)) == 0;

    private void ReadLegacyServices(NodeContext context, JsonElement array)
    {
        foreach (var svc in array.EnumerateArray())
        {
            if (svc.ValueKind != JsonValueKind.Object || !svc.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String
                || !StateSchema.IsValidKey(idElement.GetString()!))
            {
                Error(context.Index, context.Id, "/Services", "each service needs a valid \"id\"");
                continue;
            }

            var sid = idElement.GetString()!;
            foreach (var p in svc.EnumerateObject())
            {
                switch (Normalize(p.Name))
                {
                    case "id":
                        break;
                    case "state":
                        context.SetJson(_schema.ServiceState(sid), p.Value);
                        break;
                    default:
                        _warnings.Add($"nodes[{context.Index}] ({context.Id}): service {sid} field \"{p.Name}\" is not modelled and was ignored");
                        break;
                }
            }
        }
    }
}
