// Key schedule of the sync protocol: join key, join proofs and per-adjacency keys from the cluster secret.
using System.Security.Cryptography;
using System.Text;

namespace Kraken.Net.Sync;

/// <summary>
/// Derives every key from the cluster join secret with HKDF-SHA256 (RFC 5869), so no key is ever sent:
/// <list type="bullet">
/// <item>join key = HKDF(secret, info "kraken-sync v1 join"): MACs the join challenge, request and reject;</item>
/// <item>proof = HMAC-SHA256(HKDF(secret, info "kraken-sync v1 proof"), "join" | parent nonce | child nonce | child id | parent id);</item>
/// <item>adjacency key = HKDF(secret, salt = child nonce | parent nonce, info "kraken-sync v1 adjacency" | child id | parent id);</item>
/// <item>secrets key = HKDF(secret, salt = child nonce | parent nonce, info "kraken-sync v1 secrets" | child id | parent id):
/// seals what a parent hands a child that joined with a bootstrap credential.</item>
/// </list>
/// The secret is the cluster join secret, or a node's bootstrap credential for that node's first join.
/// </summary>
public static class SyncKeys
{
    public const int NonceSize = 16;
    public const int KeySize = 32;

    private static readonly byte[] s_joinInfo = Encoding.ASCII.GetBytes("kraken-sync v1 join");
    private static readonly byte[] s_proofInfo = Encoding.ASCII.GetBytes("kraken-sync v1 proof");
    private static readonly byte[] s_adjacencyInfo = Encoding.ASCII.GetBytes("kraken-sync v1 adjacency");
    private static readonly byte[] s_secretsInfo = Encoding.ASCII.GetBytes("kraken-sync v1 secrets");
    private static readonly byte[] s_joinLabel = Encoding.ASCII.GetBytes("join");

    public static byte[] DeriveJoinKey(ReadOnlySpan<byte> secret) => HKDF.DeriveKey(HashAlgorithmName.SHA256, CheckSecret(secret), KeySize, [], s_joinInfo);

    public static byte[] ComputeProof(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> parentNonce, ReadOnlySpan<byte> childNonce, UInt128 child, UInt128 parent)
    {
        var proofKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, CheckSecret(secret), KeySize, [], s_proofInfo);
        var data = new byte[s_joinLabel.Length + (2 * NonceSize) + 32];
        var w = data.AsSpan();
        s_joinLabel.CopyTo(w);
        w = w[s_joinLabel.Length..];
        parentNonce.CopyTo(w);
        childNonce.CopyTo(w[NonceSize..]);
        WriteId(w[(2 * NonceSize)..], child);
        WriteId(w[((2 * NonceSize) + 16)..], parent);
        return HMACSHA256.HashData(proofKey, data);
    }

    public static byte[] DeriveAdjacencyKey(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> childNonce, ReadOnlySpan<byte> parentNonce, UInt128 child, UInt128 parent) =>
        DerivePairKey(s_adjacencyInfo, secret, childNonce, parentNonce, child, parent);

    /// <summary>The key that seals a JoinAccept's secrets: bound to this join's nonces and ids, like the adjacency key, but never used for a MAC.</summary>
    public static byte[] DeriveSecretsKey(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> childNonce, ReadOnlySpan<byte> parentNonce, UInt128 child, UInt128 parent) =>
        DerivePairKey(s_secretsInfo, secret, childNonce, parentNonce, child, parent);

    private static byte[] DerivePairKey(byte[] label, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> childNonce, ReadOnlySpan<byte> parentNonce, UInt128 child, UInt128 parent)
    {
        var salt = new byte[2 * NonceSize];
        childNonce.CopyTo(salt);
        parentNonce.CopyTo(salt.AsSpan(NonceSize));
        var info = new byte[label.Length + 32];
        label.CopyTo(info, 0);
        WriteId(info.AsSpan(label.Length), child);
        WriteId(info.AsSpan(label.Length + 16), parent);
        return HKDF.DeriveKey(HashAlgorithmName.SHA256, CheckSecret(secret), KeySize, salt, info);
    }

    /// <summary>16 fresh bytes from the operating system's cryptographic generator.</summary>
    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceSize);

    private static byte[] CheckSecret(ReadOnlySpan<byte> secret) =>
        secret.Length >= 16 ? secret.ToArray() : throw new ArgumentException($"The join secret must be at least 16 bytes, got {secret.Length}.", nameof(secret));

    private static void WriteId(Span<byte> destination, UInt128 id)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination, (ulong)(id >> 64));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination[8..], (ulong)id);
    }
}
