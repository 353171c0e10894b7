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
                    + "Writes need \"Authorization: Bearer <token>\"; errors are RFC 7807 problem details.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The daemon's Api:Token; required by every write.",
            };
            return Task.CompletedTask;
        });
    }
}
