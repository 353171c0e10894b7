// HMAC-SHA256 (truncated: 128 bits in full frames, 96 in compact hellos) under one key, reusable without allocating.
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

    /// <summary>
    /// Writes the first <c>destination.Length</c> bytes of HMAC-SHA256(key, data): 16 for a full frame
    /// (<see cref="FrameHeader.MacSize"/>), 12 for a compact hello (<see cref="CompactHello.MacSize"/>).
    /// </summary>
    public void Compute(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (destination.Length is < CompactHello.MacSize or > 32)
        {
            throw new ArgumentException($"A MAC is truncated to 12 to 32 bytes, not {destination.Length}.", nameof(destination));
        }

        Span<byte> full = stackalloc byte[32];
        _hmac.AppendData(data);
        _hmac.GetHashAndReset(full);
        full[..destination.Length].CopyTo(destination);
    }

    public void Dispose() => _hmac.Dispose();
}
