// The API reference page at /docs: Scalar's reference UI over /openapi/v1.json, every asset served from the binary.
using Microsoft.AspNetCore.Builder;
using Scalar.AspNetCore;

namespace Kraken.Daemon.Api;

/// <summary>
/// Maps <c>/docs</c>. Scalar.AspNetCore embeds its standalone bundle (scalar.js) in its assembly and serves it below
/// the page, so the page loads nothing from elsewhere: the default web fonts (a CDN), the request proxy, telemetry,
/// the AI agent and the developer toolbar are off, and "try it" requests go straight from the browser to this daemon.
/// </summary>
internal static class ApiReference
{
    public const string Path = "/docs";

    public static void Map(WebApplication app) => app.MapScalarApiReference(Path, o =>
    {
        o.Title = "Kraken daemon API";
        o.OpenApiRoutePattern = ApiDocument.Path;
        o.DefaultFonts = false;
        o.Telemetry = false;
        o.ProxyUrl = null;
        o.Agent = new ScalarAgentOptions { Disabled = true };
        o.HideClientButton = true;

        // The toolbar's share, deploy and SDK links lead to Scalar's services.
        o.ShowDeveloperTools = DeveloperToolsVisibility.Never;
    });
}
