// An immutable MAC → binding table; StoreDhcpBindings publishes one per change of the configured addresses.
using System.Collections.Frozen;
using System.Net.NetworkInformation;
using Kraken.Net.Packets;

namespace Kraken.Modules.Pxe.Dhcp;

public sealed class DhcpBindingTable : IDhcpBindings
{
    private readonly FrozenDictionary<MacAddress, DhcpBinding> _bindings;

    /// <summary>Builds a table; for a MAC listed twice the first binding wins (the rest are counted in <see cref="Conflicts"/>).</summary>
    public DhcpBindingTable(IEnumerable<KeyValuePair<MacAddress, DhcpBinding>> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var map = new Dictionary<MacAddress, DhcpBinding>();
        foreach (var (mac, binding) in bindings)
        {
            if (!map.TryAdd(mac, binding))
            {
                Conflicts++;
            }
        }

        _bindings = map.ToFrozenDictionary();
    }

    public static DhcpBindingTable Empty { get; } = new([]);

    public int Count => _bindings.Count;

    /// <summary>MACs that appeared more than once when the table was built.</summary>
    public int Conflicts { get; }

    public bool TryGet(MacAddress mac, out DhcpBinding binding) => _bindings.TryGetValue(mac, out binding!);

    public bool TryGet(PhysicalAddress mac, out DhcpBinding binding)
    {
        ArgumentNullException.ThrowIfNull(mac);
        if (mac.GetAddressBytes().Length != MacAddress.Length)
        {
            binding = null!;
            return false;
        }

        return TryGet(MacAddress.From(mac), out binding);
    }
}
