// The extensions every daemon knows: IPv4 interfaces, PXE boot and power control.

namespace Kraken.Tree.State;

public static class StandardExtensions
{
    public const string IPv4 = "IPv4";
    public const string Pxe = "Pxe";
    public const string Power = "Power";

    /// <summary>The original Kraken's message names for each of ours.</summary>
    public const string LegacyIPv4 = "IPv4.IPv4OverEthernet";
    public const string LegacyPxe = "PXE.Client";
    public const string LegacyVBox = "VBox.VirtualMachine";
    public const string LegacyPowerman = "Powerman.Control";
    public const string LegacyPowerApi = "PowerAPI.Node";

    public static void Register(StateSchema schema)
    {
        schema.RegisterExtension(IPv4, Proto.IPv4.Descriptor, [LegacyIPv4], MapLegacyIPv4);
        schema.RegisterExtension(Pxe, Proto.Pxe.Descriptor, [LegacyPxe], static rest => rest);
        schema.RegisterExtension(Power, Proto.Power.Descriptor, [LegacyVBox, LegacyPowerman, LegacyPowerApi], MapLegacyPower);
    }

    /// <summary><c>Ifaces/k/Ip/Ip</c> → <c>Interfaces/k/Ip</c>, <c>Ifaces/k/Eth/Mac</c> → <c>Interfaces/k/Mac</c>, ...</summary>
    private static string[]? MapLegacyIPv4(string[] rest)
    {
        if (rest.Length == 0)
        {
            return rest;
        }

        if (!rest[0].Equals("Ifaces", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return rest.Length switch
        {
            1 => ["Interfaces"],
            2 => ["Interfaces", rest[1]],
            4 => (rest[2], rest[3]) switch
            {
                ("Ip", "Ip") => ["Interfaces", rest[1], "Ip"],
                ("Eth", "Mac") => ["Interfaces", rest[1], "Mac"],
                ("Eth", "Iface") => ["Interfaces", rest[1], "Device"],
                ("Eth", "Mtu") => ["Interfaces", rest[1], "Mtu"],
                _ => null,
            },
            _ => null,
        };
    }

    private static string[]? MapLegacyPower(string[] rest) => rest switch
    {
        [] => rest,
        ["ApiServer"] => ["Address"],
        ["VmName"] or ["NodeName"] => ["System"],
        _ => null,
    };

    /// <summary>Reads the interface named <paramref name="name"/> from a record, or null.</summary>
    public static Proto.IPv4.Types.Interface? Interface(NodeRecord record, string name) =>
        record.GetExtension<Proto.IPv4>(IPv4)?.Interfaces.TryGetValue(name, out var iface) == true ? iface : null;
}
