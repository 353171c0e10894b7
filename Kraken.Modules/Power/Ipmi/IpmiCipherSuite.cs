// RMCP+ cipher suites: the authentication, integrity and confidentiality algorithms a session uses.
using System.Security.Cryptography;

namespace Kraken.Modules.Power.Ipmi;

/// <summary>
/// The cipher suites the driver speaks (IPMI 2.0 table 22-20): 3 is RAKP-HMAC-SHA1 with HMAC-SHA1-96 and
/// AES-CBC-128, the one every BMC has; 17 is RAKP-HMAC-SHA256 with HMAC-SHA256-128 and AES-CBC-128.
/// </summary>
public sealed class IpmiCipherSuite
{
    // Algorithm numbers on the wire (Open Session Request payloads).
    internal const byte AuthHmacSha1 = 0x01;
    internal const byte AuthHmacSha256 = 0x03;
    internal const byte IntegrityHmacSha1_96 = 0x01;
    internal const byte IntegrityHmacSha256_128 = 0x04;
    internal const byte ConfidentialityAesCbc128 = 0x01;

    public static IpmiCipherSuite Suite3 { get; } = new(3, AuthHmacSha1, IntegrityHmacSha1_96, ConfidentialityAesCbc128, HashAlgorithmName.SHA1, 20, 12, 12);

    public static IpmiCipherSuite Suite17 { get; } = new(17, AuthHmacSha256, IntegrityHmacSha256_128, ConfidentialityAesCbc128, HashAlgorithmName.SHA256, 32, 16, 16);

    private IpmiCipherSuite(int id, byte auth, byte integrity, byte confidentiality, HashAlgorithmName hash, int hashLength, int rakp4Length, int authCodeLength)
    {
        Id = id;
        Authentication = auth;
        Integrity = integrity;
        Confidentiality = confidentiality;
        Hash = hash;
        HashLength = hashLength;
        Rakp4Length = rakp4Length;
        AuthCodeLength = authCodeLength;
    }

    public int Id { get; }

    internal byte Authentication { get; }

    internal byte Integrity { get; }

    internal byte Confidentiality { get; }

    internal HashAlgorithmName Hash { get; }

    /// <summary>Length of the RAKP 2 and RAKP 3 key exchange codes, SIK, K1 and K2.</summary>
    internal int HashLength { get; }

    /// <summary>Length of the RAKP 4 integrity check value (truncated HMAC).</summary>
    internal int Rakp4Length { get; }

    /// <summary>Length of the session trailer's authentication code.</summary>
    internal int AuthCodeLength { get; }

    public static IpmiCipherSuite FromId(int id) => id switch
    {
        3 => Suite3,
        17 => Suite17,
        _ => throw new ArgumentException($"IPMI cipher suite {id} is not supported; supported: 3 (HMAC-SHA1, AES-CBC-128) and 17 (HMAC-SHA256, AES-CBC-128).", nameof(id)),
    };

    internal byte[] Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        var result = new byte[HashLength];
        if (Hash == HashAlgorithmName.SHA1)
        {
            HMACSHA1.HashData(key, data, result);
        }
        else
        {
            HMACSHA256.HashData(key, data, result);
        }

        return result;
    }

    public override string ToString() => $"cipher suite {Id}";
}
