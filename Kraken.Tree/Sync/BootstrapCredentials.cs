// Per-node bootstrap credentials: what a parent gives a node it boots in place of the cluster join secret.
using System.Net;
using System.Net.NetworkInformation;
using System.Security.Cryptography;
using Kraken.Tree.State;

namespace Kraken.Tree.Sync;

/// <summary>Why a join with a bootstrap credential was refused.</summary>
public enum BootstrapRefusal : byte
{
    /// <summary>No credential was issued for the node (or its parent forgot it, restarting).</summary>
    Unknown,

    /// <summary>The credential was already used by a join.</summary>
    Used,

    /// <summary>The credential outlived its lifetime unused.</summary>
    Expired,

    /// <summary>The join came from another address, or the address maps to another MAC, than the boot it was issued to.</summary>
    WrongHost,
}

/// <summary>
/// The bootstrap credentials of the nodes a parent boots (docs/protocol.md 5.2). When the parent boots a node it
/// issues a fresh random credential bound to the node's id, MAC and address, and delivers it only inside that boot
/// (the PXE services hand it to the node's own address, once per DHCP exchange). The node's first join uses it in
/// place of the cluster join secret; the join consumes it, and the parent hands the node the cluster join secret
/// sealed in its JoinAccept. A credential is usable once, expires after <see cref="Lifetime"/>, and a join that
/// presents it from another host is refused. Thread-safe: the PXE services issue, the sync engine checks.
/// </summary>
public sealed class BootstrapCredentials
{
    /// <summary>Credential length in bytes (256 bits from the operating system's generator).</summary>
    public const int Size = 32;

    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<NodeId, Entry> _entries = [];
    private long _issued;
    private long _consumed;
    private readonly long[] _refused = new long[4];

    /// <param name="time">The clock expiry is measured on.</param>
    /// <param name="lifetime">How long an issued credential stays usable (default 15 minutes: a boot on slow firmware or an emulated CPU).</param>
    public BootstrapCredentials(TimeProvider time, TimeSpan? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        Lifetime = lifetime ?? TimeSpan.FromMinutes(15);
        if (Lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), Lifetime, "The lifetime of a bootstrap credential must be positive.");
        }
    }

    public TimeSpan Lifetime { get; }

    /// <summary>
    /// Reads the MAC the host's neighbour table holds for an address (the daemon reads <c>/proc/net/arp</c>); null
    /// when unknown. With it, a join must come from the MAC the credential was issued to, not just its address.
    /// </summary>
    public Func<IPAddress, PhysicalAddress?>? NeighbourLookup { get; init; }

    /// <summary>Credentials issued so far.</summary>
    public long Issued => Interlocked.Read(ref _issued);

    /// <summary>Credentials used by a join.</summary>
    public long Consumed => Interlocked.Read(ref _consumed);

    /// <summary>Joins refused for <paramref name="reason"/>.</summary>
    public long Refused(BootstrapRefusal reason) => Interlocked.Read(ref _refused[(int)reason]);

    /// <summary>
    /// Issues a fresh credential for <paramref name="node"/>, replacing any earlier one (a new boot voids the last),
    /// bound to <paramref name="host"/> (an <see cref="IPEndPoint"/>'s address, or any other endpoint as a whole)
    /// and, where the neighbour table can tell, to <paramref name="mac"/>.
    /// </summary>
    public byte[] Issue(NodeId node, EndPoint host, PhysicalAddress? mac = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        var secret = RandomNumberGenerator.GetBytes(Size);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            Purge(now);
            _entries[node] = new Entry(secret, host, mac, now + Lifetime);
        }

        Interlocked.Increment(ref _issued);
        return (byte[])secret.Clone();
    }

    /// <summary>
    /// The credential a join from <paramref name="remote"/> may use for <paramref name="node"/>; false with the
    /// reason (counted) otherwise. Does not consume it: the join is not proven yet.
    /// </summary>
    public bool TryGet(NodeId node, EndPoint remote, out byte[] secret, out BootstrapRefusal refusal)
    {
        ArgumentNullException.ThrowIfNull(remote);
        secret = [];
        refusal = default;
        lock (_lock)
        {
            if (!_entries.TryGetValue(node, out var entry))
            {
                return Refuse(BootstrapRefusal.Unknown, out refusal);
            }

            if (entry.Used)
            {
                return Refuse(BootstrapRefusal.Used, out refusal);
            }

            if (_time.GetUtcNow() >= entry.Expires)
            {
                return Refuse(BootstrapRefusal.Expired, out refusal);
            }

            if (!FromHost(entry, remote))
            {
                return Refuse(BootstrapRefusal.WrongHost, out refusal);
            }

            secret = (byte[])entry.Secret.Clone();
            return true;
        }
    }

    /// <summary>Marks <paramref name="node"/>'s credential used: a proven join took it. Kept until it expires, so a second use is told apart from an unknown one.</summary>
    public void Consume(NodeId node)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(node, out var entry) && !entry.Used)
            {
                entry.Used = true;
                CryptographicOperations.ZeroMemory(entry.Secret);
                Interlocked.Increment(ref _consumed);
            }
        }
    }

    /// <summary>Forgets <paramref name="node"/>'s credential (its boot was abandoned).</summary>
    public void Revoke(NodeId node)
    {
        lock (_lock)
        {
            _entries.Remove(node);
        }
    }

    private bool FromHost(Entry entry, EndPoint remote)
    {
        if (entry.Host is IPEndPoint bound && remote is IPEndPoint from)
        {
            var a = bound.Address.IsIPv4MappedToIPv6 ? bound.Address.MapToIPv4() : bound.Address;
            var b = from.Address.IsIPv4MappedToIPv6 ? from.Address.MapToIPv4() : from.Address;
            if (!a.Equals(b))
            {
                return false;
            }

            // Where the neighbour table knows the address, it must be the MAC the credential went to.
            return entry.Mac is null || NeighbourLookup?.Invoke(b) is not { } seen || seen.Equals(entry.Mac);
        }

        return entry.Host.Equals(remote);
    }

    private bool Refuse(BootstrapRefusal reason, out BootstrapRefusal refusal)
    {
        refusal = reason;
        Interlocked.Increment(ref _refused[(int)reason]);
        return false;
    }

    private void Purge(DateTimeOffset now)
    {
        // Used and expired entries go once they are past twice their lifetime: long enough to count a late replay as such.
        List<NodeId>? stale = null;
        foreach (var (node, e) in _entries)
        {
            if (now >= e.Expires + Lifetime)
            {
                (stale ??= []).Add(node);
            }
        }

        foreach (var node in stale ?? [])
        {
            _entries.Remove(node);
        }
    }

    private sealed class Entry(byte[] secret, EndPoint host, PhysicalAddress? mac, DateTimeOffset expires)
    {
        public byte[] Secret { get; } = secret;

        public EndPoint Host { get; } = host;

        public PhysicalAddress? Mac { get; } = mac;

        public DateTimeOffset Expires { get; } = expires;

        public bool Used { get; set; }
    }
}
