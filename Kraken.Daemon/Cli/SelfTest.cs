// "kraken selftest crypto": proves on the machine at hand (a boot image, say) that the cryptography kraken uses works.
using System.Security.Cryptography;
using System.Text;

namespace Kraken.Daemon.Cli;

/// <summary>
/// Runs the primitives the sync protocol and the API depend on against known answers: HMAC-SHA256 (RFC 4231 test
/// case 1), HKDF-SHA256 (RFC 5869 test case 1), an AES-GCM round trip that must also reject a changed byte, the
/// random number generator, and new GUIDs (from the kernel's random source). On Linux the first four go through
/// OpenSSL, loaded at run time, so a missing or broken libssl or libcrypto fails here rather than at the first join.
/// A hidden verb: a check for images and packagers.
/// </summary>
internal static class SelfTest
{
    /// <summary>Runs <c>kraken selftest crypto</c>, the only check there is; 0 when every primitive gave the right answer.</summary>
    public static async Task<int> RunAsync(TextWriter stdout)
    {
        (string Name, Func<bool> Check)[] checks =
        [
            ("HMAC-SHA256", HmacSha256),
            ("HKDF-SHA256", HkdfSha256),
            ("AES-GCM", AesGcmRoundTrip),
            ("RNG", Random),
            ("GUID", NewGuid),
        ];
        var failed = 0;
        foreach (var (name, check) in checks)
        {
            string result;
            try
            {
                result = check() ? "ok" : "WRONG ANSWER";
            }
            catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException or DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
            {
                result = $"FAILED: {ex.GetType().Name}: {ex.Message}";
            }

            failed += result == "ok" ? 0 : 1;
            await stdout.WriteLineAsync($"selftest crypto: {name} {result}").ConfigureAwait(false);
        }

        await stdout.WriteLineAsync(failed == 0
            ? $"selftest crypto: ok ({Provider()})"
            : $"selftest crypto: {failed} of {checks.Length} checks failed ({Provider()})").ConfigureAwait(false);
        return failed == 0 ? 0 : 1;
    }

    private static bool HmacSha256()
    {
        var key = Enumerable.Repeat((byte)0x0b, 20).ToArray();
        var mac = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes("Hi There"));
        return Convert.ToHexStringLower(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    }

    private static bool HkdfSha256()
    {
        var ikm = Enumerable.Repeat((byte)0x0b, 22).ToArray();
        var salt = Convert.FromHexString("000102030405060708090a0b0c");
        var info = Convert.FromHexString("f0f1f2f3f4f5f6f7f8f9");
        var okm = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 42, salt, info);
        return Convert.ToHexStringLower(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    }

    private static bool AesGcmRoundTrip()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var plain = Encoding.UTF8.GetBytes("kraken selftest: AES-GCM round trip");
        var cipher = new byte[plain.Length];
        var tag = new byte[16];
        var aad = "kraken"u8.ToArray();
        using var gcm = new AesGcm(key, tag.Length);
        gcm.Encrypt(nonce, plain, cipher, tag, aad);
        var back = new byte[plain.Length];
        gcm.Decrypt(nonce, cipher, tag, back, aad);
        if (!back.AsSpan().SequenceEqual(plain) || cipher.AsSpan().SequenceEqual(plain))
        {
            return false;
        }

        cipher[0] ^= 1;
        try
        {
            gcm.Decrypt(nonce, cipher, tag, back, aad);
            return false;   // a changed byte must not authenticate
        }
        catch (AuthenticationTagMismatchException)
        {
            return true;
        }
    }

    private static bool Random()
    {
        var a = RandomNumberGenerator.GetBytes(32);
        var b = RandomNumberGenerator.GetBytes(32);
        return !a.AsSpan().SequenceEqual(b) && a.Any(x => x != 0);
    }

    /// <summary>Guid.NewGuid reads the kernel's random source (getrandom, /dev/urandom), not OpenSSL; every HTTP request needs one.</summary>
    private static bool NewGuid() => Guid.NewGuid() != Guid.NewGuid();

    /// <summary>"OpenSSL 3.0.19" on Linux (the library actually loaded), else the platform's name.</summary>
    private static string Provider()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Environment.OSVersion.Platform.ToString();
        }

        try
        {
            // OPENSSL_VERSION_NUMBER: 0xMNN00PP0 from 3.0 on; older versions print as the raw number.
            var v = SafeEvpPKeyHandle.OpenSslVersion;
            return v >> 28 >= 3 ? $"OpenSSL {v >> 28}.{(v >> 20) & 0xFF}.{(v >> 4) & 0xFF}" : $"OpenSSL 0x{v:x}";
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or CryptographicException or EntryPointNotFoundException)
        {
            return $"OpenSSL not loaded: {ex.Message}";
        }
    }
}
