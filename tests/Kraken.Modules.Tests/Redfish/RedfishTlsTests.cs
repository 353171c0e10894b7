// TLS verification of the Redfish driver: a self-signed service is refused by default and accepted when told.
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Redfish;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Redfish;

public sealed class RedfishTlsTests : IAsyncLifetime
{
    private readonly X509Certificate2 _certificate = SelfSigned();
    private RedfishTestService _service = null!;

    public Task InitializeAsync()
    {
        _service = new RedfishTestService(_certificate, "1");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _certificate.Dispose();
    }

    private PowerTarget Target => new(NodeId.FromName("n1"), "redfish", $"127.0.0.1") { Port = _service.Port, User = RedfishTestService.User, Credential = "rf" };

    private readonly InMemoryCredentialProvider _credentials = new InMemoryCredentialProvider().Set("rf", RedfishTestService.Password);

    [Fact]
    public async Task Self_signed_certificate_is_refused_by_default_with_a_clear_error()
    {
        Assert.StartsWith("https://", _service.BaseUrl, StringComparison.Ordinal);
        using var driver = new RedfishPowerDriver(_credentials);
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(Target, PowerAction.Status, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Configuration, e.Kind);
        Assert.Contains("TLS certificate", e.Message, StringComparison.Ordinal);
        Assert.Contains("VerifyTls = false", e.Message, StringComparison.Ordinal);
        Assert.Empty(_service.Resets);
    }

    [Fact]
    public async Task Self_signed_certificate_is_accepted_when_verification_is_off()
    {
        using var driver = new RedfishPowerDriver(_credentials, new RedfishOptions { VerifyTls = false });
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target, PowerAction.On, CancellationToken.None));
        Assert.Equal("On", _service.PowerStates["1"]);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=kraken-test-bmc", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));

        // Kestrel needs the private key in an exportable form.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }
}
