// MAC → static address from the IPv4 extension (Cfg view) of the nodes in this daemon's subtree. The table is
// rebuilt lazily after a change that can move a binding: a node created or deleted, or an IPv4, hostname or
// parent value changed. Changes of the discovered state (the boot progress itself) never cost a rebuild.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Modules.Pxe.Dhcp;

public sealed class StoreDhcpBindings : IDhcpBindings, IStateObserver, IDisposable
{
    private const int DefaultPrefixLength = 24;

    private readonly StateStore _store;
    private readonly Func<NodeId, bool> _inSubtree;
    private readonly IDisposable _subscription;
    private readonly object _rebuildGate = new();
    private DhcpBindingTable _table = DhcpBindingTable.Empty;
    private int _dirty = 1;

    /// <param name="store">The state store whose Cfg view holds the addresses.</param>
    /// <param name="inSubtree">Which nodes this daemon serves (its children's subtree).</param>
    public StoreDhcpBindings(StateStore store, Func<NodeId, bool> inSubtree)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(inSubtree);
        _store = store;
        _inSubtree = inSubtree;
        _subscription = store.Subscribe(this);
    }

    /// <summary>The current table (rebuilt first if the store changed).</summary>
    public DhcpBindingTable Table
    {
        get
        {
            if (Volatile.Read(ref _dirty) != 0)
            {
                Rebuild();
            }

            return Volatile.Read(ref _table);
        }
    }

    /// <summary>Forces a rebuild on the next lookup, e.g. after the subtree membership changed.</summary>
    public void Invalidate() => Volatile.Write(ref _dirty, 1);

    public bool TryGet(MacAddress mac, out DhcpBinding binding) => Table.TryGet(mac, out binding);

    public bool TryGet(PhysicalAddress mac, out DhcpBinding binding) => Table.TryGet(mac, out binding);

    void IStateObserver.OnChanges(ReadOnlySpan<StateChange> changes)
    {
        foreach (var change in changes)
        {
            if (change.View != StateView.Cfg)
            {
                continue;
            }

            if (change.Kind != ChangeKind.Updated || change.Url is null
                || change.Url.ExtensionName == StandardExtensions.IPv4
                || change.Url.Core is CoreField.ParentId or CoreField.Nodename or CoreField.BackupParents)
            {
                Volatile.Write(ref _dirty, 1);
                return;
            }
        }
    }

    private void Rebuild()
    {
        lock (_rebuildGate)
        {
            if (Interlocked.Exchange(ref _dirty, 0) == 0)
            {
                return;
            }

            var entries = new List<KeyValuePair<MacAddress, DhcpBinding>>();
            foreach (var record in _store.Snapshot(StateView.Cfg))
            {
                if (!_inSubtree(record.Id) || record.GetExtension<IPv4>(StandardExtensions.IPv4) is not { } ipv4)
                {
                    continue;
                }

                var hostname = ipv4.HasHostname && ipv4.Hostname.Length > 0 ? ipv4.Hostname : record.Nodename;

                // The interface the daemon syncs over first, then the others by name, so a MAC listed on two
                // interfaces resolves the same way every time.
                foreach (var (_, iface) in ipv4.Interfaces.OrderBy(p => p.Key == "kraken" ? 0 : 1).ThenBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (!iface.HasMac || !iface.HasIp || iface.Mac == 0 || iface.Ip == 0)
                    {
                        continue;
                    }

                    var prefix = iface.HasPrefix && iface.Prefix is > 0 and <= 32 ? (int)iface.Prefix : DefaultPrefixLength;
                    IPAddress? gateway = iface.HasGateway && iface.Gateway != 0 ? Ipv4.ToAddress(iface.Gateway) : null;
                    entries.Add(new(new MacAddress(iface.Mac & 0xffff_ffff_ffffUL),
                        new DhcpBinding(record.Id, Ipv4.ToAddress(iface.Ip), prefix, gateway, hostname)));
                }
            }

            Volatile.Write(ref _table, new DhcpBindingTable(entries));
        }
    }

    public void Dispose() => _subscription.Dispose();
}
