// The OpenAPI document: served at /openapi/v1.json, describing every endpoint of /api/v1 and the compatibility paths.
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Kraken.Daemon.Api;

internal static class ApiDocument
{
    public const string Name = "v1";

    /// <summary>Where the document is served; {documentName} is <see cref="Name"/>.</summary>
    public const string Path = "/openapi/{documentName}.json";

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Kraken daemon API",
                Version = "v1",
                Description = "Cfg and Dsc of the nodes a kraken daemon holds, the mutation graph and plans, freeze/thaw, "
                    + "the tree's adjacencies, the event stream, and the original Kraken's paths for existing clients. "
                    + "Writes, and reads that call hardware (live power status), need \"Authorization: Bearer <token>\"; errors are RFC 7807 problem details.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The daemon's Api:Token; required by every write and by every read that calls hardware.",
            };
            return Task.CompletedTask;
        });

        // Writes: the bearer scheme and their 401; every operation of the API: its problem answers.
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            operation.Responses ??= new OpenApiResponses();
            if (metadata.OfType<RequiresTokenMetadata>().Any())
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [] });
                operation.Responses.TryAdd("401", new OpenApiResponse { Description = "No, or a wrong, bearer token (problem details)." });
            }

            if (metadata.OfType<ProblemAnswersMetadata>().Any())
            {
                operation.Responses.TryAdd("400", new OpenApiResponse { Description = "Bad input, named in the problem details; nothing changed." });
                operation.Responses.TryAdd("404", new OpenApiResponse { Description = "No such node or view (problem details)." });
            }

            return Task.CompletedTask;
        });
    }
}

/// <summary>Marks endpoints that need the bearer token (for the OpenAPI document).</summary>
internal sealed class RequiresTokenMetadata
{
    public static readonly RequiresTokenMetadata Instance = new();
}

/// <summary>Marks endpoints that answer errors as RFC 7807 problem details.</summary>
internal sealed class ProblemAnswersMetadata
{
    public static readonly ProblemAnswersMetadata Instance = new();
}
