// The optional Kestrel section: HTTPS (or more listeners) for the API, in Kestrel's own configuration schema.
using Microsoft.Extensions.Configuration;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Checks the <c>Kestrel</c> section before anything starts, so a typo in an endpoint or a missing certificate
/// file is a configuration error naming its key (exit 2), not a failure half-way through start-up. Kestrel reads the
/// section itself (<c>Kestrel:Endpoints:&lt;name&gt;:Url</c>, <c>:Certificate:Path</c>, <c>:Certificate:KeyPath</c>,
/// <c>:Certificate:Password</c>, ...); when it names endpoints they replace <c>Api:Url</c>.
/// </summary>
internal static class KestrelSection
{
    public const string Name = "Kestrel";

    private static readonly string[] s_endpointKeys = ["Url", "Protocols", "SslProtocols", "ClientCertificateMode", "Certificate", "Sni"];
    private static readonly string[] s_certificateKeys = ["Path", "KeyPath", "Password", "Subject", "Store", "Location", "AllowInvalid"];

    /// <summary>True when the section names at least one endpoint (then <c>Api:Url</c> is not used).</summary>
    public static bool HasEndpoints(IConfiguration configuration) =>
        configuration.GetSection(Name).GetSection("Endpoints").GetChildren().Any();

    public static void Validate(IConfiguration configuration)
    {
        foreach (var endpoint in configuration.GetSection(Name).GetSection("Endpoints").GetChildren())
        {
            Known(endpoint, s_endpointKeys);
            var url = endpoint["Url"];
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new DaemonConfigException($"{endpoint.Path}:Url", $"'{url}' is not an http:// or https:// URL");
            }

            var certificate = endpoint.GetSection("Certificate");
            Known(certificate, s_certificateKeys);
            foreach (var key in (ReadOnlySpan<string>)["Path", "KeyPath"])
            {
                if (certificate[key] is { } file && !File.Exists(file))
                {
                    throw new DaemonConfigException($"{certificate.Path}:{key}", $"'{file}' does not exist");
                }
            }

            if (uri.Scheme == "https" && certificate["Path"] is null && certificate["Subject"] is null && configuration.GetSection(Name).GetSection("Certificates").GetSection("Default")["Path"] is null)
            {
                throw new DaemonConfigException($"{endpoint.Path}:Certificate:Path", "an https endpoint needs a certificate (Certificate:Path, with Certificate:KeyPath for a PEM key)");
            }
        }
    }

    private static void Known(IConfigurationSection section, string[] keys)
    {
        foreach (var child in section.GetChildren())
        {
            if (!keys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new DaemonConfigException(child.Path, $"unknown key; expected one of {string.Join(", ", keys)}");
            }
        }
    }
}
