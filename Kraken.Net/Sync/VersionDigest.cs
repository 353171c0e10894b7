// An order-independent, incrementally updated digest of (node, version) pairs.
namespace Kraken.Net.Sync;

/// <summary>
/// XOR of a 64-bit mix of each (node id, version) pair, plus a count. Adding or removing a pair is O(1), and
/// two sides that hold the same pairs hold the same digest whatever order they learned them in.
/// </summary>
public struct VersionDigest : IEquatable<VersionDigest>
{
    public ulong Value { get; private set; }

    public uint Count { get; private set; }

    public void Add(UInt128 node, ulong version)
    {
        Value ^= Mix(node, version);
        Count++;
    }

    public void Remove(UInt128 node, ulong version)
    {
        Value ^= Mix(node, version);
        Count--;
    }

    public void Clear()
    {
        Value = 0;
        Count = 0;
    }

    /// <summary>
    /// The 32-bit digest a compact hello carries: <see cref="Value"/> and <see cref="Count"/> folded together
    /// and salted with the hello's sequence number (see <see cref="Short(ulong, uint, ulong)"/>).
    /// </summary>
    public readonly uint Short(ulong sequence) => Short(Value, Count, sequence);

    /// <summary>
    /// Folds a 64-bit digest and its count into 32 bits, salted with <paramref name="sequence"/>: SplitMix64's
    /// finalizer over the three, high half kept. Two different tables then agree with chance about 2^-32 per
    /// hello, and because the salt changes with every hello, a chance agreement does not repeat on the next one.
    /// </summary>
    public static uint Short(ulong value, uint count, ulong sequence) =>
        (uint)(Finalize(Finalize(value ^ (count * 0x9E3779B97F4A7C15UL)) ^ sequence) >> 32);

    /// <summary>The mix of one pair: SplitMix64's finalizer chained over the id halves and the version.</summary>
    public static ulong Mix(UInt128 node, ulong version)
    {
        var h = Finalize((ulong)(node >> 64) + 0x9E3779B97F4A7C15UL);
        h = Finalize(h ^ (ulong)node);
        return Finalize(h ^ version);
    }

    private static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public readonly bool Equals(VersionDigest other) => Value == other.Value && Count == other.Count;

    public override readonly bool Equals(object? obj) => obj is VersionDigest other && Equals(other);

    public override readonly int GetHashCode() => HashCode.Combine(Value, Count);

    public static bool operator ==(VersionDigest left, VersionDigest right) => left.Equals(right);

    public static bool operator !=(VersionDigest left, VersionDigest right) => !left.Equals(right);
}
