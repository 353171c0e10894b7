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

public sealed record RedfishOptions
{
    /// <summary>The driver name nodes select (<c>/Extensions/Power/Driver</c>).</summary>
    public string Name { get; init; } = "redfish";

    public RedfishAuth Auth { get; init; } = RedfishAuth.Session;

    /// <summary>Check the service's TLS certificate. BMCs often have self-signed ones; turning this off trusts any.</summary>
    public bool VerifyTls { get; init; } = true;

    /// <summary>The scheme when <c>/Extensions/Power/Address</c> is a bare host name or address.</summary>
    public string DefaultScheme { get; init; } = "https";

    /// <summary>Replies larger than this are refused (a ComputerSystem resource is a few kilobytes).</summary>
    public int MaxResponseBytes { get; init; } = 1 << 20;

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
