// Checks a JSON value against a schema of the OpenAPI document (the subset of JSON Schema the document uses).
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Kraken.Daemon.Tests.Api;

/// <summary>
/// type (one or several), enum, const-free properties/required/additionalProperties, items, oneOf, $ref into
/// components, minimum/maximum, maxLength, pattern and the formats uuid, ipv4 and date-time. Anything else in a
/// schema fails the check, so the document cannot quietly grow a keyword this does not look at.
/// </summary>
internal sealed class SchemaCheck(JsonNode document)
{
    private static readonly HashSet<string> s_known =
    [
        "type", "enum", "properties", "required", "additionalProperties", "items", "oneOf", "anyOf", "$ref", "minimum", "maximum",
        "maxLength", "pattern", "format", "description", "default",
    ];

    public JsonNode Document { get; } = document;

    public List<string> Errors { get; } = [];

    public void Check(JsonNode schema, JsonElement value, string at)
    {
        foreach (var (key, _) in schema.AsObject())
        {
            if (!s_known.Contains(key))
            {
                Errors.Add($"{at}: the schema uses \"{key}\", which this check does not know");
            }
        }

        if (schema["$ref"] is { } reference)
        {
            var name = reference.GetValue<string>()["#/components/schemas/".Length..];
            Check(Document["components"]!["schemas"]![name] ?? throw new InvalidOperationException($"no component {name}"), value, at);
            return;
        }

        if (schema["oneOf"] is JsonArray oneOf)
        {
            var matching = oneOf.Count(s => Matches(s!, value, at));
            if (matching != 1)
            {
                Errors.Add($"{at}: matches {matching} of the oneOf schemas, not one");
            }

            return;
        }

        if (schema["anyOf"] is JsonArray anyOf)
        {
            if (!anyOf.Any(s => Matches(s!, value, at)))
            {
                Errors.Add($"{at}: matches none of the anyOf schemas");
            }

            return;
        }

        if (schema["type"] is { } type && !Types(type).Any(t => IsType(value, t)))
        {
            Errors.Add($"{at}: {value.ValueKind} {Short(value)} is not {type.ToJsonString()}");
            return;
        }

        if (schema["enum"] is JsonArray values && !values.Any(v => JsonNode.DeepEquals(v, JsonNode.Parse(value.GetRawText()))))
        {
            Errors.Add($"{at}: {Short(value)} is not one of {values.ToJsonString()}");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                CheckObject(schema, value, at);
                break;
            case JsonValueKind.Array when schema["items"] is { } items:
                var i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    Check(items, item, $"{at}[{i++}]");
                }

                break;
            case JsonValueKind.String:
                CheckString(schema, value.GetString()!, at);
                break;
            case JsonValueKind.Number:
                var n = value.GetDouble();
                if (schema["minimum"] is { } min && n < Number(min) || schema["maximum"] is { } max && n > Number(max))
                {
                    Errors.Add($"{at}: {n} is out of range");
                }

                break;
        }
    }

    private bool Matches(JsonNode schema, JsonElement value, string at)
    {
        var inner = new SchemaCheck(Document);
        inner.Check(schema, value, at);
        return inner.Errors.Count == 0;
    }

    private void CheckObject(JsonNode schema, JsonElement value, string at)
    {
        var properties = schema["properties"]?.AsObject();
        foreach (var required in schema["required"]?.AsArray() ?? [])
        {
            if (!value.TryGetProperty(required!.GetValue<string>(), out _))
            {
                Errors.Add($"{at}: \"{required}\" is required");
            }
        }

        foreach (var p in value.EnumerateObject())
        {
            if (properties?[p.Name] is { } property)
            {
                Check(property, p.Value, $"{at}.{p.Name}");
            }
            else if (schema["additionalProperties"] is { } additional)
            {
                if (additional.GetValueKind() == JsonValueKind.False)
                {
                    Errors.Add($"{at}: \"{p.Name}\" is not in the schema");
                }
                else if (additional.GetValueKind() == JsonValueKind.Object)
                {
                    Check(additional, p.Value, $"{at}.{p.Name}");
                }
            }
        }
    }

    private void CheckString(JsonNode schema, string text, string at)
    {
        if (schema["maxLength"] is { } maxLength && text.Length > maxLength.GetValue<int>())
        {
            Errors.Add($"{at}: longer than {maxLength}");
        }

        if (schema["pattern"] is { } pattern && !Regex.IsMatch(text, pattern.GetValue<string>(), RegexOptions.None, TimeSpan.FromSeconds(1)))
        {
            Errors.Add($"{at}: '{text}' does not match {pattern}");
        }

        var ok = schema["format"]?.GetValue<string>() switch
        {
            "uuid" => Guid.TryParse(text, out _),
            "ipv4" => System.Net.IPAddress.TryParse(text, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork,
            "date-time" => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, out _),
            _ => true,
        };
        if (!ok)
        {
            Errors.Add($"{at}: '{text}' is not a {schema["format"]}");
        }
    }

    private static IEnumerable<string> Types(JsonNode type) =>
        type is JsonArray a ? a.Select(t => t!.GetValue<string>()) : [type.GetValue<string>()];

    private static bool IsType(JsonElement value, string type) => (type, value.ValueKind) switch
    {
        ("object", JsonValueKind.Object) or ("array", JsonValueKind.Array) or ("string", JsonValueKind.String) or ("null", JsonValueKind.Null) => true,
        ("boolean", JsonValueKind.True or JsonValueKind.False) => true,
        ("number", JsonValueKind.Number) => true,
        ("integer", JsonValueKind.Number) => value.TryGetInt64(out _) || value.TryGetUInt64(out _),
        _ => false,
    };

    private static double Number(JsonNode node) => node.GetValueKind() == JsonValueKind.String
        ? double.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture)
        : node.GetValue<double>();

    private static string Short(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length > 80 ? text[..80] + "..." : text;
    }
}
