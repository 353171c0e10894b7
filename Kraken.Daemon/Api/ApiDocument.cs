// The OpenAPI document: served at /openapi/v1.json, describing every endpoint of /api/v1 and the compatibility paths
// with their request and response schemas, for people (/docs) and client generators.
using Kraken.Daemon.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Kraken.Daemon.Api;

internal static class ApiDocument
{
    public const string Name = "v1";

    /// <summary>Where the document is served; {documentName} is <see cref="Name"/>.</summary>
    public const string Path = "/openapi/{documentName}.json";

    /// <summary>
    /// Text a 200 answer may also be, by operation id (one status has one declared type): the graph as DOT, and
    /// /metrics, which is mapped outside the API and declares nothing.
    /// </summary>
    private static readonly Dictionary<string, (string ContentType, string Description)> s_textAnswers = new(StringComparer.Ordinal)
    {
        ["Metrics"] = ("text/plain", "Prometheus text format 0.0.4."),
        ["GetGraph"] = ("text/vnd.graphviz", "The mutation graph (JSON), or with format=dot Graphviz DOT."),
    };

    private static readonly Dictionary<string, string> s_tags = new(StringComparer.Ordinal)
    {
        ["v1"] = "This daemon's API: nodes, values, the engine, power, events.",
        ["compat"] = "The original Kraken's paths and JSON, for krakenctl and kraken-dashboard.",
        ["ops"] = "Liveness and metrics.",
    };

    /// <summary>
    /// The document and what its schemas are derived from: the API bodies' source-generated JSON metadata, read with
    /// nullable annotations and required constructor parameters respected, so "required" and "null" in the schemas
    /// say what the answers hold.
    /// </summary>
    public static IServiceCollection AddKrakenApiDocument(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
            o.SerializerOptions.RespectNullableAnnotations = true;
            o.SerializerOptions.RespectRequiredConstructorParameters = true;

            // Numbers are numbers: the web defaults' "numbers as strings too" would type every number as number|string.
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });
        return services.AddOpenApi(Name, Configure);
    }

    private static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, context, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Kraken daemon API",
                Version = "v1",
                Description = "Cfg and Dsc of the nodes a kraken daemon holds, the mutation graph and plans, freeze/thaw, "
                    + "the tree's adjacencies, the event stream, and the original Kraken's paths for existing clients. "
                    + "Writes, and reads that call hardware (live power status), need `Authorization: Bearer TOKEN`; errors are RFC 7807 problem details. "
                    + "Reference pages: /docs.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The daemon's Api:Token; required by every write and by every read that calls hardware.",
            };
            NodeSchemas.Apply(document, context.ApplicationServices.GetRequiredService<KrakenDaemon>().Store.Schema);

            // The document describes the daemon that serves it: its one server is where it was read from (not the
            // address a request happened to use).
            document.Servers = [new OpenApiServer { Url = "/", Description = "The daemon serving this document." }];

            // Open unless an operation says otherwise (writes and hardware reads require "bearer").
            document.Security = [new OpenApiSecurityRequirement()];
            foreach (var tag in document.Tags ?? Enumerable.Empty<OpenApiTag>())
            {
                if (tag.Name is { } name && s_tags.TryGetValue(name, out var description))
                {
                    tag.Description = description;
                }
            }

            return Task.CompletedTask;
        });

        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            operation.Responses ??= new OpenApiResponses();
            if (metadata.OfType<RequiresTokenMetadata>().Any())
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [] });
            }

            foreach (var p in metadata.OfType<ParameterSchemaMetadata>())
            {
                p.Apply(operation);
            }

            if (operation.OperationId is { } id && s_textAnswers.TryGetValue(id, out var text) && operation.Responses.TryGetValue("200", out var ok) && ok is OpenApiResponse response)
            {
                response.Description = text.Description;
                response.Content ??= new Dictionary<string, OpenApiMediaType>();
                response.Content[text.ContentType] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            }

            // Problem answers say when they happen.
            foreach (var (status, answer) in operation.Responses)
            {
                if (answer is OpenApiResponse r && (string.IsNullOrEmpty(r.Description) || r.Description == ReasonPhrase(status)) && s_problemDescriptions.TryGetValue(status, out var problem))
                {
                    r.Description = problem;
                }
            }

            return Task.CompletedTask;
        });
    }

    private static string ReasonPhrase(string status) =>
        int.TryParse(status, out var code) ? ReasonPhrases.GetReasonPhrase(code) : string.Empty;

    private static readonly Dictionary<string, string> s_problemDescriptions = new(StringComparer.Ordinal)
    {
        ["400"] = "Bad input, named in the problem details; nothing changed.",
        ["401"] = "No, or a wrong, bearer token (or none configured).",
        ["404"] = "No such node, view or operation.",
        ["409"] = "A conflict: the node exists, a Cfg write at a child, or power control is off.",
        ["412"] = "If-Match names a version the node no longer has.",
        ["429"] = "Too many bulk power operations are running.",
        ["503"] = "Too many large answers at once (Retry-After), or the durable store refused the change.",
    };

    /// <summary>Declares the problem-details answers an endpoint gives.</summary>
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.ProducesProblem(status);
        }

        return builder;
    }

    /// <summary>Declares the values or format of a parameter the handler takes as text (the handler checks them).</summary>
    public static RouteHandlerBuilder Parameter(this RouteHandlerBuilder builder, ParameterSchemaMetadata parameter) => builder.WithMetadata(parameter);
}

/// <summary>Marks endpoints that need the bearer token (for the OpenAPI document).</summary>
internal sealed class RequiresTokenMetadata
{
    public static readonly RequiresTokenMetadata Instance = new();
}

/// <summary>The allowed values (an enum) or format of a parameter bound as a string, for the OpenAPI document.</summary>
internal sealed class ParameterSchemaMetadata(string name, string? format, params string[] values)
{
    public static readonly ParameterSchemaMetadata View = new("view", null, "cfg", "dsc");
    public static readonly ParameterSchemaMetadata NodeId = new("id", "uuid");

    public string Name { get; } = name;

    public void Apply(OpenApiOperation operation)
    {
        foreach (var p in operation.Parameters ?? [])
        {
            if (p is not OpenApiParameter parameter || parameter.Name != Name)
            {
                continue;
            }

            var schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = format };
            if (values.Length > 0)
            {
                schema.Enum = [.. values.Select(v => (System.Text.Json.Nodes.JsonNode)System.Text.Json.Nodes.JsonValue.Create(v))];
            }

            // A repeatable query parameter is an array of them.
            parameter.Schema = parameter.Schema?.Type is { } type && type.HasFlag(JsonSchemaType.Array)
                ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = schema }
                : schema;
        }
    }
}
