// Sealing for the secrets a parent hands a child at join: AES-256-GCM with a fresh nonce, bound to the frame it rides in.
using System.Security.Cryptography;

namespace Kraken.Net.Sync;

/// <summary>
/// <c>nonce (12) | ciphertext | tag (16)</c> under a 32-byte key (<see cref="SyncKeys.DeriveSecretsKey"/>). The
/// associated data binds a sealed box to its context (the child's and parent's ids), so a box cannot be moved to
/// another join. Opening a box that was altered, truncated or sealed under another key fails.
/// </summary>
public static class SecretBox
{
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int Overhead = NonceSize + TagSize;

    public static byte[] Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var box = new byte[Overhead + plaintext.Length];
        var nonce = box.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plaintext, box.AsSpan(NonceSize, plaintext.Length), box.AsSpan(NonceSize + plaintext.Length, TagSize), associatedData);
        return box;
    }

    /// <summary>The plaintext of <paramref name="box"/>; throws <see cref="CryptographicException"/> when it does not verify.</summary>
    public static byte[] Open(ReadOnlySpan<byte> key, ReadOnlySpan<byte> box, ReadOnlySpan<byte> associatedData)
    {
        if (box.Length < Overhead)
        {
            throw new CryptographicException($"A sealed box is at least {Overhead} bytes, not {box.Length}.");
        }

        var plaintext = new byte[box.Length - Overhead];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(box[..NonceSize], box.Slice(NonceSize, plaintext.Length), box[^TagSize..], plaintext, associatedData);
        return plaintext;
    }
}
