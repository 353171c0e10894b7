// The Kestrel section: the API over HTTPS with certificate files (a self-signed certificate made here), and its
// endpoints checked at start with the key named.
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kraken.Daemon.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests.Hosting;

[Trait("Category", "Network")]
public sealed class HttpsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-https-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A self-signed server certificate for 127.0.0.1 and localhost, written as PEM files; the certificate.</summary>
    private X509Certificate2 WriteCertificate(out string certPath, out string keyPath)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=kraken-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        certPath = Path.Combine(_dir, "api.crt");
        keyPath = Path.Combine(_dir, "api.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }

    [Fact]
    public async Task The_api_serves_https_with_the_configured_certificate_files()
    {
        using var certificate = WriteCertificate(out var certPath, out var keyPath);
        await using var d = await TestDaemon.StartRootAsync(extra:
        [
            "--Kestrel:Endpoints:Https:Url=https://127.0.0.1:0",
            $"--Kestrel:Endpoints:Https:Certificate:Path={certPath}",
            $"--Kestrel:Endpoints:Https:Certificate:KeyPath={keyPath}",
        ]);
        // The Kestrel endpoint replaces Api:Url: one listener, the TLS one.
        var url = Assert.Single(d.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses);
        Assert.StartsWith("https://127.0.0.1:", url, StringComparison.Ordinal);

        // The client trusts exactly this certificate: the answer proves the server presented it.
        string? presented = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                presented = cert?.Thumbprint;
                return cert?.Thumbprint == certificate.Thumbprint;
            },
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri(url) };
        Assert.Equal("ok", (await https.GetStringAsync("/healthz")).Trim());
        Assert.Equal(certificate.Thumbprint, presented);
        Assert.Contains("kraken_build_info", await https.GetStringAsync("/metrics"), StringComparison.Ordinal);

        // Plain HTTP on the TLS port gets no API answer.
        using var plain = new HttpClient { BaseAddress = new Uri(url.Replace("https://", "http://", StringComparison.Ordinal)) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetStringAsync("/healthz"));
    }

    [Theory]
    [InlineData("Kestrel:Endpoints:Https:Url", "ftp://127.0.0.1:1", "Kestrel:Endpoints:Https:Url")]
    [InlineData("Kestrel:Endpoints:Https:Certificate:Path", "/nonexistent/api.crt", "Kestrel:Endpoints:Https:Certificate:Path")]
    [InlineData("Kestrel:Endpoints:Https:Certificate:KeyPath", "/nonexistent/api.key", "Kestrel:Endpoints:Https:Certificate:KeyPath")]
    [InlineData("Kestrel:Endpoints:Https:Certifcate:Path", "/x", "Kestrel:Endpoints:Https:Certifcate")]
    [InlineData("Kestrel:Endpoints:Https:Certificate:Paht", "/x", "Kestrel:Endpoints:Https:Certificate:Paht")]
    public void A_bad_kestrel_endpoint_names_its_key(string key, string value, string named)
    {
        WriteCertificate(out var certPath, out var keyPath).Dispose();
        var values = new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Https:Certificate:Path"] = certPath,
            ["Kestrel:Endpoints:Https:Certificate:KeyPath"] = keyPath,
        };
        Assert.NotNull(LoadWithHttps(values));
        values[key] = value;
        var e = Assert.Throws<DaemonConfigException>(() => LoadWithHttps(values));
        Assert.Equal(named, e.Key);
    }

    [Fact]
    public void An_https_endpoint_without_a_certificate_is_refused()
    {
        var e = Assert.Throws<DaemonConfigException>(() => LoadWithHttps([]));
        Assert.Equal("Kestrel:Endpoints:Https:Certificate:Path", e.Key);
    }

    /// <summary>A root with the https endpoint <c>Kestrel:Endpoints:Https</c> and <paramref name="values"/> on top.</summary>
    private static DaemonOptions LoadWithHttps(Dictionary<string, string?> values) =>
        DaemonOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NodeId"] = TestDaemon.RootId,
            ["Sync:JoinSecret"] = TestDaemon.Secret,
            ["Store:Path"] = DaemonOptions.MemoryStore,
            ["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0",
        }.Concat(values).GroupBy(kv => kv.Key).Select(g => g.Last())).Build());
}
