// The nodes a PXE server boots, indexed by MAC, address, id and name; rebuilt after Cfg changes.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Tree.State;

namespace Kraken.Modules.Pxe;

/// <summary>
/// Looks up the nodes this daemon boots (those for which <c>inSubtree</c> holds, by default its children) by
/// MAC, IPv4 address, node id or name. The index is an immutable snapshot built from the store's Cfg on first
/// use after a Cfg change, so lookups on the hot path are dictionary reads without locks, and Dsc changes (the
/// PXE state of every booting node) cost nothing.
/// </summary>
public sealed class BootNodeDirectory : IStateObserver, IDisposable
{
    private readonly StateStore _store;
    private readonly Func<NodeId, bool> _inSubtree;
    private readonly string _interfaceName;
    private readonly IDisposable _subscription;
    private volatile Index? _index;
    private long _generation;

    /// <param name="store">The daemon's store.</param>
    /// <param name="inSubtree">Which nodes this server boots.</param>
    /// <param name="interfaceName">The IPv4 interface to boot over (see <see cref="BootNode.FromRecord"/>).</param>
    public BootNodeDirectory(StateStore store, Func<NodeId, bool> inSubtree, string interfaceName = BootNode.DefaultInterface)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(inSubtree);
        _store = store;
        _inSubtree = inSubtree;
        _interfaceName = interfaceName;
        _subscription = store.Subscribe(this);
    }

    /// <summary>A predicate for "the node's Cfg parent is <paramref name="self"/>".</summary>
    public static Func<NodeId, bool> ChildrenOf(StateStore store, NodeId self)
    {
        ArgumentNullException.ThrowIfNull(store);
        return id => id != self && store.Get(StateView.Cfg, id)?.ParentId == self;
    }

    /// <summary>The IPv4 interface name nodes boot over.</summary>
    public string Interface => _interfaceName;

    /// <summary>How many nodes have a MAC or an address to be booted by.</summary>
    public int Count => Current.ById.Count;

    public bool TryGetByMac(PhysicalAddress mac, out BootNode node) =>
        Current.ByMac.TryGetValue(BootNode.FromMac(mac), out node!);

    public bool TryGetByAddress(IPAddress address, out BootNode node)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return Current.ByAddress.TryGetValue(address, out node!);
    }

    public bool TryGetById(NodeId id, out BootNode node) => Current.ById.TryGetValue(id, out node!);

    /// <summary>By node id (UUID text) first, then by hostname or node name (case-insensitive).</summary>
    public bool TryGetByName(string name, out BootNode node)
    {
        ArgumentNullException.ThrowIfNull(name);
        var index = Current;
        if (NodeId.TryParse(name, null, out var id) && index.ById.TryGetValue(id, out node!))
        {
            return true;
        }

        return index.ByName.TryGetValue(name, out node!);
    }

    /// <summary>
    /// The addresses of the backup parents <paramref name="node"/>'s Cfg names, in order: for each, its interface on
    /// the node's own segment (same subnet as the node's boot address), else its <c>kraken</c> interface. Parents
    /// whose record this daemon does not hold, or that have no address, are left out.
    /// </summary>
    public IReadOnlyList<IPAddress> BackupParentAddresses(BootNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (_store.Get(StateView.Cfg, node.Id) is not { BackupParents.IsEmpty: false } cfg)
        {
            return [];
        }

        var result = new List<IPAddress>(cfg.BackupParents.Length);
        foreach (var parent in cfg.BackupParents)
        {
            if (_store.Get(StateView.Cfg, parent)?.GetExtension<Kraken.Tree.State.Proto.IPv4>(StandardExtensions.IPv4) is not { } ipv4)
            {
                continue;
            }

            IPAddress? fallback = null, onSegment = null;
            foreach (var (name, iface) in ipv4.Interfaces.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!iface.HasIp)
                {
                    continue;
                }

                var address = BootNode.ToAddress(iface.Ip);
                if (name == BootNode.DefaultInterface)
                {
                    fallback = address;
                }

                if (onSegment is null && node.Address is { } own && SameSubnet(own, address, node.PrefixLength))
                {
                    onSegment = address;
                }
            }

            if ((onSegment ?? fallback) is { } chosen)
            {
                result.Add(chosen);
            }
        }

        return result;
    }

    private static bool SameSubnet(IPAddress a, IPAddress b, int prefix)
    {
        var x = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes());
        var y = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.GetAddressBytes());
        var mask = prefix <= 0 ? 0u : uint.MaxValue << (32 - Math.Min(32, prefix));
        return (x & mask) == (y & mask) && x != y;
    }

    public void OnChanges(ReadOnlySpan<StateChange> changes)
    {
        foreach (var change in changes)
        {
            if (change.View == StateView.Cfg)
            {
                Interlocked.Increment(ref _generation);
                return;
            }
        }
    }

    public void Dispose() => _subscription.Dispose();

    private Index Current
    {
        get
        {
            var index = _index;
            return index is not null && index.Generation == Interlocked.Read(ref _generation) ? index : Rebuild();
        }
    }

    private Index Rebuild()
    {
        // The generation is read before the snapshot: a Cfg change during the build leaves the new index stale,
        // and the next lookup builds again, so no change is ever lost.
        var index = new Index { Generation = Interlocked.Read(ref _generation) };
        foreach (var cfg in _store.Snapshot(StateView.Cfg))
        {
            if (!_inSubtree(cfg.Id))
            {
                continue;
            }

            var node = BootNode.FromRecord(cfg, _interfaceName);
            index.ById[node.Id] = node;
            if (node.Mac is not null)
            {
                index.ByMac[BootNode.FromMac(node.Mac)] = node;
            }

            if (node.Address is not null)
            {
                index.ByAddress[node.Address] = node;
            }

            if (!string.IsNullOrEmpty(node.Hostname))
            {
                index.ByName.TryAdd(node.Hostname, node);
            }

            if (!string.IsNullOrEmpty(cfg.Nodename))
            {
                index.ByName.TryAdd(cfg.Nodename, node);
            }
        }

        _index = index;
        return index;
    }

    private sealed class Index
    {
        public Dictionary<NodeId, BootNode> ById { get; } = [];

        public Dictionary<ulong, BootNode> ByMac { get; } = [];

        public Dictionary<IPAddress, BootNode> ByAddress { get; } = [];

        public Dictionary<string, BootNode> ByName { get; } = new(StringComparer.OrdinalIgnoreCase);

        public long Generation { get; init; }
    }
}
