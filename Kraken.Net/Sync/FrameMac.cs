// HMAC-SHA256 (truncated to 128 bits) under one key, reusable without allocating.
using System.Security.Cryptography;

namespace Kraken.Net.Sync;

/// <summary>
/// Computes frame MACs under one key. Holds one <see cref="IncrementalHash"/> so the hello path allocates
/// nothing; not thread-safe (an engine uses it from its executor only).
/// </summary>
public sealed class FrameMac : IDisposable
{
    private readonly IncrementalHash _hmac;

    public FrameMac(ReadOnlySpan<byte> key)
    {
        if (key.Length < 16)
        {
            throw new ArgumentException($"A frame key must be at least 16 bytes, got {key.Length}.", nameof(key));
        }

        _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
    }

    /// <summary>Writes the first <see cref="FrameHeader.MacSize"/> bytes of HMAC-SHA256(key, data).</summary>
    public void Compute(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        Span<byte> full = stackalloc byte[32];
        _hmac.AppendData(data);
        _hmac.GetHashAndReset(full);
        full[..FrameHeader.MacSize].CopyTo(destination);
    }

    public void Dispose() => _hmac.Dispose();
}
