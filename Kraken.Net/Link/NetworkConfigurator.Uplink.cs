// The boot path's one call: bring up loopback and the uplink NIC (found by MAC, else by name) with its MTU,
// IPv4 address and default route, and report which of those steps changed anything.
using System.Net;
using Kraken.Net.Packets;

namespace Kraken.Net.Link;

/// <summary>What the uplink of a network-booted node should look like.</summary>
public sealed record UplinkConfiguration
{
    /// <summary>The NIC's hardware address; wins over <see cref="InterfaceName"/> when both are set.</summary>
    public MacAddress? Mac { get; init; }

    /// <summary>The NIC's name, used when no <see cref="Mac"/> is given.</summary>
    public string? InterfaceName { get; init; }

    public required IPAddress Address { get; init; }

    public int PrefixLength { get; init; } = 24;

    /// <summary>The default gateway, inside the address's subnet; null for none.</summary>
    public IPAddress? Gateway { get; init; }

    /// <summary>The MTU to set; null leaves the interface's own.</summary>
    public int? Mtu { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> whose parameter name is the offending property.</summary>
    public void Validate()
    {
        if (Mac is null && string.IsNullOrEmpty(InterfaceName))
        {
            throw new ArgumentException("the uplink needs a MAC or an interface name", nameof(Mac));
        }

        if (Mac is { } mac && (mac.Value == 0 || mac.IsGroup))
        {
            throw new ArgumentException($"{mac} is not a unicast MAC", nameof(Mac));
        }

        if (PrefixLength is < 0 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(PrefixLength), PrefixLength, $"{PrefixLength} is not a prefix length (0..32)");
        }

        var address = NetworkConfigurator.UnicastIpv4(Address, nameof(Address));
        var mask = NetworkConfigurator.Mask(PrefixLength);
        if (PrefixLength <= 30 && ((address & ~mask) == 0 || (address & ~mask) == ~mask))
        {
            throw new ArgumentException($"{Address} is the network or broadcast address of {Address}/{PrefixLength}", nameof(Address));
        }

        if (Gateway is not null)
        {
            var gateway = NetworkConfigurator.UnicastIpv4(Gateway, nameof(Gateway));
            if (gateway == address || (gateway & mask) != (address & mask))
            {
                throw new ArgumentException($"{Gateway} is not another address in {Address}/{PrefixLength}", nameof(Gateway));
            }
        }

        if (Mtu is < 68 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Mtu), Mtu, $"{Mtu} is not an MTU (68..65535)");
        }
    }
}

public enum UplinkStepKind
{
    LoopbackUp,
    Mtu,
    LinkUp,
    Address,
    DefaultRoute,
}

/// <summary>One step of <see cref="NetworkConfigurator.ConfigureAsync"/>; <see cref="Changed"/> is false when it was already so.</summary>
public sealed record UplinkStep(UplinkStepKind Kind, string Description, bool Changed)
{
    public override string ToString() => Changed ? Description : $"{Description} (already)";
}

/// <summary>The uplink as it was found, and what was done to it.</summary>
public sealed record UplinkReport(LinkInfo Interface, IReadOnlyList<UplinkStep> Steps)
{
    public bool Changed => Steps.Any(s => s.Changed);

    public override string ToString() => $"{Interface.Name} ({Interface.Mac}): {string.Join("; ", Steps)}";
}

public sealed partial class NetworkConfigurator
{
    /// <summary>
    /// Configures the uplink: validates <paramref name="uplink"/> and finds its interface before changing anything,
    /// then sets loopback up (a fresh initramfs has it down), the MTU if given, the interface up, the address with its
    /// broadcast address, and the default route if a gateway is given. Running it again changes nothing.
    /// </summary>
    /// <exception cref="ArgumentException">A value of <paramref name="uplink"/> is invalid (named by the parameter name).</exception>
    /// <exception cref="NetworkConfigurationException">No interface or several have the MAC, or the kernel refused a step.</exception>
    public async Task<UplinkReport> ConfigureAsync(UplinkConfiguration uplink, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uplink);
        uplink.Validate();
        var links = await ListInterfacesAsync(cancellationToken).ConfigureAwait(false);
        var link = uplink.Mac is { } mac ? Single(links, mac) : links.FirstOrDefault(l => l.Name == uplink.InterfaceName);
        if (link is null)
        {
            var wanted = uplink.Mac is { } m ? $"MAC {m}" : $"name {uplink.InterfaceName}";
            throw new NetworkConfigurationException("find interface", null,
                $"find interface: no interface has {wanted}; present: {string.Join(", ", links.Select(l => $"{l.Name} ({l.Mac?.ToString() ?? "no MAC"})"))}");
        }

        var steps = new List<UplinkStep>();
        foreach (var loopback in links.Where(l => l.IsLoopback && l.Index != link.Index))
        {
            steps.Add(new(UplinkStepKind.LoopbackUp, $"{loopback.Name} up", await SetUpAsync(loopback, cancellationToken).ConfigureAwait(false)));
        }

        if (uplink.Mtu is { } mtu)
        {
            steps.Add(new(UplinkStepKind.Mtu, $"{link.Name} mtu {mtu}", await SetMtuAsync(link, mtu, cancellationToken).ConfigureAwait(false)));
        }

        steps.Add(new(UplinkStepKind.LinkUp, $"{link.Name} up", await SetUpAsync(link, cancellationToken).ConfigureAwait(false)));
        steps.Add(new(UplinkStepKind.Address, $"{link.Name} {uplink.Address}/{uplink.PrefixLength}",
            await AddAddressAsync(link, uplink.Address, uplink.PrefixLength, cancellationToken).ConfigureAwait(false)));
        if (uplink.Gateway is { } gateway)
        {
            steps.Add(new(UplinkStepKind.DefaultRoute, $"default via {gateway} dev {link.Name}",
                await AddDefaultRouteAsync(link, gateway, cancellationToken).ConfigureAwait(false)));
        }

        return new UplinkReport(link, steps);
    }
}
