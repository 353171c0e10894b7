// The configurator against a real kernel, inside a namespace each test creates, checked with iproute2 (`ip -j`)
// as the independent oracle.
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Kraken.Net.Link;
using Kraken.Net.Packets;

namespace Kraken.Net.Tests.Link;

/// <summary>A fresh namespace holding one veth pair with known MACs, everything down; removed on dispose.</summary>
internal sealed class ConfiguratorNamespace : IDisposable
{
    public ConfiguratorNamespace()
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        Name = $"knc-{id}";
        Uplink = $"kc{id}u";
        Peer = $"kc{id}p";
        var random = (ulong)Random.Shared.Next(0x100, 0xffff) << 8;
        UplinkMac = new MacAddress(0x5254_0000_0000UL | random | 0x11);
        PeerMac = new MacAddress(0x5254_0000_0000UL | random | 0x12);
        try
        {
            Ip("netns", "add", Name);
            Ip("-n", Name, "link", "add", Uplink, "address", UplinkMac.ToString(), "type", "veth", "peer", "name", Peer, "address", PeerMac.ToString());
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    public string Uplink { get; }

    public string Peer { get; }

    public MacAddress UplinkMac { get; }

    public MacAddress PeerMac { get; }

    /// <summary><c>ip -j -n NS ARGS</c>, parsed.</summary>
    public JsonElement Json(params string[] arguments) => JsonDocument.Parse(Ip(["-j", "-n", Name, .. arguments])).RootElement.Clone();

    /// <summary>The interface <paramref name="name"/> as <c>ip -j addr show</c> reports it.</summary>
    public JsonElement Address(string name) => Json("addr", "show", "dev", name)[0];

    /// <summary>The IPv4 addresses of <paramref name="name"/> as "A.B.C.D/P brd X" strings.</summary>
    public List<string> Ipv4(string name) => [.. Address(name).GetProperty("addr_info").EnumerateArray()
        .Where(a => a.GetProperty("family").GetString() == "inet")
        .Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}"
            + (a.TryGetProperty("broadcast", out var b) ? $" brd {b.GetString()}" : string.Empty))];

    public static bool IsUp(JsonElement link) => link.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "UP");

    public static string Ip(params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)}: {error.Result}");
        }

        return output;
    }

    public void Dispose()
    {
        try
        {
            Ip("netns", "delete", Name);   // takes the veth pair with it
        }
        catch (InvalidOperationException)
        {
            // Never created.
        }
    }
}

[Trait("Category", "Network")]
public sealed class NetworkConfiguratorTests : IDisposable
{
    private static readonly IPAddress Address = IPAddress.Parse("198.18.0.11");
    private static readonly IPAddress Gateway = IPAddress.Parse("198.18.0.1");

    private readonly ConfiguratorNamespace _ns = new();
    private readonly NetworkConfigurator _configurator;

    public NetworkConfiguratorTests()
    {
        try
        {
            _configurator = NetworkConfigurator.Open(_ns.Name);
        }
        catch
        {
            _ns.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _configurator.Dispose();
        _ns.Dispose();
    }

    private UplinkConfiguration Uplink(int mtu = 1400) => new()
    {
        Mac = _ns.UplinkMac,
        Address = Address,
        PrefixLength = 24,
        Gateway = Gateway,
        Mtu = mtu,
    };

    /// <summary>
    /// The configuration iproute2 reports (per link: name, MAC, MTU, admin state, IPv4 addresses; every IPv4 route of
    /// every table), leaving out carrier and operational state, which a veth settles on its own after going up.
    /// </summary>
    private string Snapshot()
    {
        var links = _ns.Json("addr").EnumerateArray().Select(l =>
            $"{l.GetProperty("ifname").GetString()} {l.GetProperty("address").GetString()} mtu {l.GetProperty("mtu").GetInt32()} "
            + $"{(ConfiguratorNamespace.IsUp(l) ? "up" : "down")} [{string.Join(' ', _ns.Ipv4(l.GetProperty("ifname").GetString()!))}]");
        var routes = _ns.Json("-4", "route", "show", "table", "all").EnumerateArray().Select(r =>
            string.Join(' ', r.EnumerateObject().Where(p => p.Name != "flags").Select(p => $"{p.Name}={p.Value}")));
        return string.Join('\n', links.Concat(routes));
    }

    [Fact]
    public async Task Configure_brings_up_loopback_and_the_uplink_with_mtu_address_broadcast_and_default_route()
    {
        Assert.False(ConfiguratorNamespace.IsUp(_ns.Address("lo")));    // a fresh namespace, like a fresh initramfs

        var report = await _configurator.ConfigureAsync(Uplink());

        Assert.Equal(_ns.Uplink, report.Interface.Name);
        Assert.Equal(
            [UplinkStepKind.LoopbackUp, UplinkStepKind.Mtu, UplinkStepKind.LinkUp, UplinkStepKind.Address, UplinkStepKind.DefaultRoute],
            report.Steps.Select(s => s.Kind));
        Assert.All(report.Steps, s => Assert.True(s.Changed, s.ToString()));

        var lo = _ns.Address("lo");
        Assert.True(ConfiguratorNamespace.IsUp(lo));
        Assert.Contains("127.0.0.1/8", _ns.Ipv4("lo"));    // the kernel gives loopback its address when it comes up
        var uplink = _ns.Address(_ns.Uplink);
        Assert.True(ConfiguratorNamespace.IsUp(uplink));
        Assert.Equal(1400, uplink.GetProperty("mtu").GetInt32());
        Assert.Equal(_ns.UplinkMac.ToString(), uplink.GetProperty("address").GetString());
        Assert.Equal(["198.18.0.11/24 brd 198.18.0.255"], _ns.Ipv4(_ns.Uplink));
        var route = Assert.Single(_ns.Json("-4", "route", "show", "default").EnumerateArray());
        Assert.Equal("198.18.0.1", route.GetProperty("gateway").GetString());
        Assert.Equal(_ns.Uplink, route.GetProperty("dev").GetString());
        Assert.Equal("boot", route.TryGetProperty("protocol", out var protocol) ? protocol.GetString() : "boot");   // ip leaves out its own default

        // The peer and everything else stay as they were.
        Assert.False(ConfiguratorNamespace.IsUp(_ns.Address(_ns.Peer)));
        Assert.Empty(_ns.Ipv4(_ns.Peer));
    }

    [Fact]
    public async Task Configuring_again_changes_nothing_and_says_so()
    {
        await _configurator.ConfigureAsync(Uplink());
        var before = Snapshot();

        var again = await _configurator.ConfigureAsync(Uplink());

        Assert.All(again.Steps, s => Assert.False(s.Changed, s.ToString()));
        Assert.False(again.Changed);
        Assert.Contains("(already)", again.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task Without_a_mac_the_interface_is_found_by_name()
    {
        var report = await _configurator.ConfigureAsync(new UplinkConfiguration { InterfaceName = _ns.Peer, Address = IPAddress.Parse("198.18.0.12"), PrefixLength = 28 });

        Assert.Equal(_ns.Peer, report.Interface.Name);
        Assert.Equal(["198.18.0.12/28 brd 198.18.0.15"], _ns.Ipv4(_ns.Peer));
        Assert.Empty(_ns.Json("-4", "route", "show", "default").EnumerateArray());
        Assert.DoesNotContain(report.Steps, s => s.Kind is UplinkStepKind.Mtu or UplinkStepKind.DefaultRoute);
    }

    [Fact]
    public async Task An_unknown_mac_is_an_error_that_changes_nothing()
    {
        var before = Snapshot();
        var unknown = new MacAddress(0x5254_0018_ffffUL);

        var e = await Assert.ThrowsAsync<NetworkConfigurationException>(() => _configurator.ConfigureAsync(Uplink() with { Mac = unknown }));

        Assert.Contains("no interface has MAC 52:54:00:18:ff:ff", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{_ns.Uplink} ({_ns.UplinkMac})", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
        Assert.False(ConfiguratorNamespace.IsUp(_ns.Address("lo")));
    }

    [Theory]
    [InlineData(33, null, "PrefixLength")]
    [InlineData(-1, null, "PrefixLength")]
    [InlineData(24, "198.18.1.1", "Gateway")]
    [InlineData(24, "198.18.0.11", "Gateway")]
    public async Task Bad_values_are_refused_naming_them_before_anything_changes(int prefix, string? gateway, string parameter)
    {
        var before = Snapshot();

        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => _configurator.ConfigureAsync(
            Uplink() with { PrefixLength = prefix, Gateway = gateway is null ? Gateway : IPAddress.Parse(gateway) }));

        Assert.Equal(parameter, e.ParamName);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task The_listing_matches_iproute2()
    {
        await _configurator.ConfigureAsync(Uplink());
        ConfiguratorNamespace.Ip("-n", _ns.Name, "link", "set", _ns.Peer, "up");
        ConfiguratorNamespace.Ip("-n", _ns.Name, "addr", "add", "198.18.2.5/30", "dev", _ns.Peer);

        var links = await _configurator.ListInterfacesAsync();
        var oracle = _ns.Json("addr").EnumerateArray().ToList();

        Assert.Equal(oracle.Select(l => l.GetProperty("ifindex").GetInt32()), links.Select(l => l.Index));
        foreach (var (link, expected) in links.Zip(oracle))
        {
            Assert.Equal(expected.GetProperty("ifname").GetString(), link.Name);
            Assert.Equal(expected.GetProperty("address").GetString(), link.Mac?.ToString());
            Assert.Equal(expected.GetProperty("mtu").GetInt32(), link.Mtu);
            Assert.Equal(ConfiguratorNamespace.IsUp(expected), link.IsUp);
            Assert.Equal(_ns.Ipv4(link.Name), link.Addresses.Select(a => a + (a.Broadcast is null ? string.Empty : $" brd {a.Broadcast}")));
        }

        Assert.Equal(_ns.Peer, (await _configurator.FindByMacAsync(_ns.PeerMac))?.Name);
        Assert.Equal(_ns.UplinkMac, (await _configurator.FindByNameAsync(_ns.Uplink))?.Mac);
        var routes = await _configurator.ListRoutesAsync();
        Assert.Contains(routes, r => r.IsDefault && Gateway.Equals(r.Gateway));
        Assert.Contains(routes, r => r.ToString().StartsWith("198.18.2.4/30 ifindex", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Removal_undoes_the_address_and_route_and_is_idempotent_too()
    {
        var report = await _configurator.ConfigureAsync(Uplink());
        var link = report.Interface;

        Assert.True(await _configurator.RemoveDefaultRouteAsync(link, Gateway));
        Assert.False(await _configurator.RemoveDefaultRouteAsync(link, Gateway));
        Assert.True(await _configurator.RemoveAddressAsync(link, Address, 24));
        Assert.False(await _configurator.RemoveAddressAsync(link, Address, 24));

        Assert.Empty(_ns.Ipv4(_ns.Uplink));
        Assert.Empty(_ns.Json("-4", "route", "show", "default").EnumerateArray());
    }

    [Fact]
    public async Task A_refusal_by_the_kernel_names_the_operation_the_interface_and_the_errno()
    {
        var link = await _configurator.FindByNameAsync(_ns.Uplink);
        Assert.NotNull(link);

        var e = await Assert.ThrowsAsync<NetlinkException>(() => _configurator.SetMtuAsync(link, 70000));

        Assert.Equal("EINVAL", e.ErrnoName);
        Assert.StartsWith($"set MTU 70000 on {_ns.Uplink}: EINVAL (Invalid argument, errno 22)", e.Message, StringComparison.Ordinal);
        Assert.Equal(1500, _ns.Address(_ns.Uplink).GetProperty("mtu").GetInt32());

        var gone = link with { Index = 9999 };
        var missing = await Assert.ThrowsAsync<NetlinkException>(() => _configurator.SetUpAsync(gone));
        Assert.Equal("ENODEV", missing.ErrnoName);
    }

    [Fact]
    public async Task Another_default_route_is_reported_and_left_alone()
    {
        ConfiguratorNamespace.Ip("-n", _ns.Name, "link", "set", _ns.Uplink, "up");
        ConfiguratorNamespace.Ip("-n", _ns.Name, "addr", "add", "198.18.0.11/24", "dev", _ns.Uplink);
        ConfiguratorNamespace.Ip("-n", _ns.Name, "route", "add", "default", "via", "198.18.0.254", "dev", _ns.Uplink);

        var e = await Assert.ThrowsAsync<NetworkConfigurationException>(() => _configurator.ConfigureAsync(Uplink()));

        Assert.Contains("already has default via 198.18.0.254", e.Message, StringComparison.Ordinal);
        var route = Assert.Single(_ns.Json("-4", "route", "show", "default").EnumerateArray());
        Assert.Equal("198.18.0.254", route.GetProperty("gateway").GetString());
    }

    [Fact]
    public async Task The_configurator_stays_in_its_namespace_whichever_thread_uses_it()
    {
        // The host's interfaces are not the namespace's: the uplink's MAC exists only inside it.
        using var host = NetworkConfigurator.Open();
        Assert.Null(await host.FindByMacAsync(_ns.UplinkMac));

        var found = await Task.Run(() => _configurator.FindByMacAsync(_ns.UplinkMac));
        Assert.Equal(_ns.Uplink, found?.Name);
    }
}
