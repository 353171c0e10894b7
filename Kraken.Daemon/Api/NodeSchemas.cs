// The OpenAPI schemas of node records, in our shape and the original's, built from the state schema's messages.
using System.Text.Json.Nodes;
using Google.Protobuf.Reflection;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Microsoft.OpenApi;

namespace Kraken.Daemon.Api;

/// <summary>
/// Fills the components of the marker types (<see cref="StateNode"/>, <see cref="LegacyNode"/>, <see cref="ScalarValue"/>,
/// <see cref="NodesInput"/>, <see cref="ImportInput"/>) once the document is built. A node's fields come from the
/// protobuf descriptors of the record and of every registered extension, with the state model's meaning: enums by
/// name, IPv4 and MAC formats, limits, host-name and interface-name rules.
/// </summary>
internal static class NodeSchemas
{
    public static void Apply(OpenApiDocument document, StateSchema schema)
    {
        var schemas = document.Components?.Schemas;
        if (schemas is null)
        {
            return;
        }

        Set(schemas, nameof(ScalarValue), Scalar());
        Set(schemas, nameof(StateNode), Node(schema));
        Set(schemas, nameof(LegacyNode), Legacy(schema));
        Set(schemas, nameof(NodesInput), new OpenApiSchema
        {
            Description = "One node, {\"nodes\": [...]}, or an array of nodes.",
            OneOf = [Ref(nameof(StateNode), document), Ref(nameof(StateNodeList), document), new OpenApiSchema { Type = JsonSchemaType.Array, Items = Ref(nameof(StateNode), document) }],
        });
        Set(schemas, nameof(ImportInput), new OpenApiSchema
        {
            Description = "A state file (kraken-state/1; \"format\" optional) or the original's NodeList (a list may read as both).",
            AnyOf = [Ref(nameof(StateFile), document), Ref(nameof(LegacyNodeList), document)],
        });
    }

    /// <summary>Only where the document uses the type: a component nobody refers to is not added.</summary>
    private static void Set(IDictionary<string, IOpenApiSchema> schemas, string name, OpenApiSchema value)
    {
        if (schemas.ContainsKey(name))
        {
            schemas[name] = value;
        }
    }

    private static OpenApiSchemaReference Ref(string name, OpenApiDocument document) => new(name, document);

    private static OpenApiSchema Scalar() => new()
    {
        Type = JsonSchemaType.String | JsonSchemaType.Number | JsonSchemaType.Boolean | JsonSchemaType.Null,
        Description = "A state value as text (POWER_ON, 198.18.0.11), a number or a boolean; null unsets it (\"don't care\" in Cfg).",
    };

    private static OpenApiSchema Node(StateSchema schema)
    {
        var extensions = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = new Dictionary<string, IOpenApiSchema>(), AdditionalPropertiesAllowed = false, Description = "Registered extensions by name." };
        foreach (var ext in schema.Extensions)
        {
            extensions.Properties[ext.Name] = Message(ext.Descriptor, isService: false);
        }

        var node = Core(legacy: false);
        node.Properties!["backupParents"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = Uuid(), Description = "Parents to fail over to, in order." };
        node.Properties["extensions"] = extensions;
        node.Properties["services"] = new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalProperties = Message(Service.Descriptor, isService: true), Description = "Services by id." };
        node.Description = "A node record in the state-file shape (docs/state-file.md); every field but id is optional (unset: \"don't care\" in Cfg).";
        return node;
    }

    private static OpenApiSchema Legacy(StateSchema schema)
    {
        var node = Core(legacy: true);
        var service = Message(Service.Descriptor, isService: true);
        service.Properties!["id"] = new OpenApiSchema { Type = JsonSchemaType.String };
        service.Properties["module"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Read and ignored." };
        service.Required = new HashSet<string> { "id" };
        node.Properties!["services"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = service };
        var types = string.Join(", ", new[] { StandardExtensions.LegacyIPv4, StandardExtensions.LegacyPxe, StandardExtensions.LegacyVBox, StandardExtensions.LegacyPowerman, StandardExtensions.LegacyPowerApi, Tree.StateFiles.StateFileReader.NodeEntryType }
            .Concat(schema.Extensions.Select(e => e.Descriptor.FullName)));
        node.Properties["extensions"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Array,
            Items = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Properties = new Dictionary<string, IOpenApiSchema> { ["@type"] = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^type\\.googleapis\\.com/", Description = "type.googleapis.com/ and one of: " + types } },
                Required = new HashSet<string> { "@type" },
                Description = "An extension as jsonpb writes an Any: its type and its fields.",
            },
        };
        node.Description = "A node in the original Kraken's JSON (jsonpb). Values the original's messages cannot carry are in entries of type kraken.ext.<Name> (the state file's fields) and kraken.Node (backupParents, enums set to their zero).";
        return node;
    }

    /// <summary>The core fields both shapes share; the original's also accepts the proto (snake_case) names on input.</summary>
    private static OpenApiSchema Core(bool legacy) => new()
    {
        Type = JsonSchemaType.Object,
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["id"] = Uuid(),
            ["nodename"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["runState"] = Enum(Tree.State.Proto.Node.Descriptor.FindFieldByName("run_state").EnumType),
            ["physState"] = Enum(Tree.State.Proto.Node.Descriptor.FindFieldByName("phys_state").EnumType),
            ["arch"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["platform"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["parentId"] = Uuid(),
        },
        Required = new HashSet<string> { "id" },
        AdditionalPropertiesAllowed = legacy,
    };

    private static OpenApiSchema Message(MessageDescriptor message, bool isService)
    {
        var result = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = new Dictionary<string, IOpenApiSchema>(), AdditionalPropertiesAllowed = false };
        foreach (var field in StateSchema.AddressableFields(message, isService))
        {
            if (Field(field) is { } s)
            {
                result.Properties[field.JsonName] = s;
            }
        }

        return result;
    }

    private static IOpenApiSchema? Field(FieldDescriptor field)
    {
        if (field.IsMap)
        {
            var value = field.MessageType.FindFieldByNumber(2);
            return new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalProperties = value.FieldType == FieldType.Message ? Message(value.MessageType, false) : Leaf(value) };
        }

        return field.FieldType == FieldType.Message ? Message(field.MessageType, false) : Leaf(field);
    }

    private static OpenApiSchema? Leaf(FieldDescriptor field) => StateSchema.LeafType(field) is not { } type ? null : type.Kind switch
    {
        ValueKind.Enum => Enum(type.EnumType!),
        ValueKind.Bool => new OpenApiSchema { Type = JsonSchemaType.Boolean },
        ValueKind.Int => new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64" },
        ValueKind.UInt => new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0", Maximum = type.MaxValue == 0 ? null : type.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        ValueKind.IPv4 => new OpenApiSchema { Type = JsonSchemaType.String, Format = "ipv4" },
        ValueKind.Mac => new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$", Description = "A MAC address." },
        _ => new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Format = type.Rule switch { TextRule.HostName => "hostname", _ => null },
            Description = type.Rule == TextRule.InterfaceName ? "A network interface name (1 to 15 characters, no '/', ':' or whitespace)." : type.Sensitive ? "A reference to a credential the daemon holds, never the secret." : null,
            MaxLength = type.Rule switch { TextRule.HostName => Math.Min(type.MaxLength, 253), TextRule.InterfaceName => Math.Min(type.MaxLength, 15), _ => type.MaxLength },
        },
    };

    private static OpenApiSchema Enum(EnumDescriptor e) => new()
    {
        Type = JsonSchemaType.String,
        Enum = [.. e.Values.Select(v => (JsonNode)JsonValue.Create(v.Name))],
    };

    private static OpenApiSchema Uuid() => new() { Type = JsonSchemaType.String, Format = "uuid" };
}
