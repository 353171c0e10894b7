// Settings of the IPMI driver.
namespace Kraken.Modules.Power.Ipmi;

/// <remarks>Settable rather than init-only: the daemon fills it with the source-generated configuration binder, which sets only settable properties.</remarks>
public sealed record IpmiOptions
{
    /// <summary>The driver name nodes select (<c>/Extensions/Power/Driver</c>).</summary>
    public string Name { get; set; } = "ipmi";

    /// <summary>3 (HMAC-SHA1, AES-CBC-128; the default, what every BMC has) or 17 (HMAC-SHA256, AES-CBC-128).</summary>
    public int CipherSuite { get; set; } = 3;

    /// <summary>Session privilege: 3 operator (enough for chassis control) or 4 administrator.</summary>
    public byte Privilege { get; set; } = 4;

    /// <summary>The UDP port when a node's Power extension has none.</summary>
    public int DefaultPort { get; set; } = 623;

    /// <summary>How long to wait for each reply before sending the request again.</summary>
    public TimeSpan PacketTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many times a request is sent again when no valid reply comes (so 1 + this many tries).</summary>
    public int PacketRetries { get; set; } = 3;

    /// <summary>A session idle longer than this is opened afresh (BMCs drop idle sessions; ipmi_sim after 60 s).</summary>
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>After power on or off, how long the chassis state is read until it agrees; zero reads it once.</summary>
    public TimeSpan ConfirmTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait between those reads.</summary>
    public TimeSpan ConfirmInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    public void Validate()
    {
        _ = IpmiCipherSuite.FromId(CipherSuite);
        if (Privilege is < 2 or > 4)
        {
            throw new ArgumentException($"IpmiOptions.Privilege must be 2 (user), 3 (operator) or 4 (administrator) (was {Privilege}).");
        }

        if (DefaultPort is < 1 or > 65535)
        {
            throw new ArgumentException($"IpmiOptions.DefaultPort must be 1-65535 (was {DefaultPort}).");
        }

        if (ConfirmTimeout < TimeSpan.Zero || ConfirmInterval <= TimeSpan.Zero || PacketTimeout <= TimeSpan.Zero || PacketRetries is < 0 or > 20 || SessionIdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"IpmiOptions: PacketTimeout ({PacketTimeout}) and SessionIdleTimeout ({SessionIdleTimeout}) must be positive, ConfirmTimeout ({ConfirmTimeout}) not negative, ConfirmInterval ({ConfirmInterval}) positive, and PacketRetries ({PacketRetries}) 0-20.");
        }
    }
}
