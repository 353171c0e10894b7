// Settings of the Redfish driver.
namespace Kraken.Modules.Power.Redfish;

/// <summary>How the driver authenticates to a Redfish service.</summary>
public enum RedfishAuth : byte
{
    /// <summary>A session (POST to the SessionService, then the X-Auth-Token header), reused per service and user.</summary>
    Session,

    /// <summary>HTTP Basic authentication on every request.</summary>
    Basic,
}

/// <remarks>Settable rather than init-only: the daemon fills it with the source-generated configuration binder, which sets only settable properties.</remarks>
public sealed record RedfishOptions
{
    /// <summary>The driver name nodes select (<c>/Extensions/Power/Driver</c>).</summary>
    public string Name { get; set; } = "redfish";

    public RedfishAuth Auth { get; set; } = RedfishAuth.Session;

    /// <summary>Check the service's TLS certificate. BMCs often have self-signed ones; turning this off trusts any.</summary>
    public bool VerifyTls { get; set; } = true;

    /// <summary>The scheme when <c>/Extensions/Power/Address</c> is a bare host name or address.</summary>
    public string DefaultScheme { get; set; } = "https";

    /// <summary>Replies larger than this are refused (a ComputerSystem resource is a few kilobytes).</summary>
    public int MaxResponseBytes { get; set; } = 1 << 20;

    public void Validate()
    {
        if (DefaultScheme is not ("http" or "https"))
        {
            throw new ArgumentException($"RedfishOptions.DefaultScheme must be http or https (was {DefaultScheme}).");
        }

        if (MaxResponseBytes < 1024)
        {
            throw new ArgumentException($"RedfishOptions.MaxResponseBytes must be at least 1024 (was {MaxResponseBytes}).");
        }
    }
}
