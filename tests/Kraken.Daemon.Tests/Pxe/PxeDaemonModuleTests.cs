// Section Modules:Pxe: keys read and checked with the key named, absent section, and the example configs.
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Modules;
using Kraken.Tree.State;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Daemon.Tests.Pxe;

public sealed class PxeDaemonModuleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-pxecfg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static IConfigurationSection Section(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>("Modules:Pxe:" + v.Key, v.Value)))
            .Build()
            .GetSection(PxeDaemonModule.Section);

    private (string, string)[] Valid(params (string, string)[] more) =>
        [("Interface", "lo"), ("ServerAddress", "127.0.0.1"), ("BootRoot", _dir), .. more];

    [Fact]
    public void Keys_map_onto_the_services_options()
    {
        var o = PxeDaemonModule.ReadOptions(Section(Valid(
            ("HttpPort", "8081"), ("TftpRoot", _dir), ("LinkKind", "afpacket"), ("RouterAdvertisements", "false"),
            ("LeaseTime", "00:10:00"), ("DnsServers:0", "198.18.0.53"), ("Kernel", "k/vmlinuz"), ("Initrd", "k/initrd"),
            ("KernelArgs", "quiet kraken.id={{node}}"), ("BootInterface", "eth0"), ("RegisteredOnly", "true"),
            ("RequirePowerOn", "false"), ("DhcpTimeout", "00:02:00"))));
        Assert.Equal(8081, o.HttpPort);
        Assert.Equal(Net.Link.RawLinkKind.AfPacket, o.LinkKind);
        Assert.False(o.RouterAdvertisements);
        Assert.Equal(TimeSpan.FromMinutes(10), o.LeaseTime);
        Assert.Equal("198.18.0.53", Assert.Single(o.DnsServers).ToString());
        Assert.Equal(("k/vmlinuz", "k/initrd", "eth0"), (o.Boot.Kernel, o.Boot.Initrd, o.Boot.Interface));
        Assert.True(o.Module.RegisteredOnly);
        Assert.False(o.Module.RequirePowerOn);
        Assert.Equal(TimeSpan.FromMinutes(2), o.Module.DhcpTimeout);
        Assert.Equal(["k/vmlinuz", "k/initrd"], o.Module.BootFiles); // the kernel and initrd by default
        Assert.Equal("http://127.0.0.1:8081/boot/{node}.ipxe", o.IpxeScriptUrl);
    }

    [Theory]
    [InlineData("Bogus", "1", "Modules:Pxe:Bogus")]
    [InlineData("HttpPort", "eighty", "Modules:Pxe:HttpPort")]
    [InlineData("RegisteredOnly", "maybe", "Modules:Pxe:RegisteredOnly")]
    [InlineData("DhcpTimeout", "soon", "Modules:Pxe:DhcpTimeout")]
    [InlineData("ServerAddress", "::1", "Modules:Pxe:ServerAddress")]
    [InlineData("LinkKind", "carrier-pigeon", "Modules:Pxe:LinkKind")]
    public void Bad_values_are_configuration_errors_naming_the_key(string key, string value, string expected)
    {
        var e = Assert.Throws<DaemonConfigException>(() => PxeDaemonModule.ReadOptions(Section([.. Valid().Where(v => v.Item1 != key), (key, value)])));
        Assert.Equal(expected, e.Key);
    }

    [Theory]
    [InlineData("IpxeTemplate", "#!ipxe\nkernel {{kernal}}", "Modules:Pxe:IpxeTemplate")]
    [InlineData("KernelArgs", "{{kernel-args}}", "Modules:Pxe:KernelArgs")]
    [InlineData("HttpPort", "70000", "Modules:Pxe:HttpPort")]
    [InlineData("FetchTimeout", "-00:00:01", "Modules:Pxe:FetchTimeout")]
    [InlineData("TftpRoot", "/nonexistent/tftp", "Modules:Pxe:TftpRoot")]
    public void Errors_found_when_the_services_are_built_stop_the_daemon_with_the_key(string key, string value, string expected)
    {
        var module = new PxeDaemonModule();
        var e = Assert.Throws<DaemonConfigException>(() => module.Create(Context(Section([.. Valid(), (key, value)]))));
        Assert.Equal(expected, e.Key);
        Assert.Null(module.Services);
    }

    [Fact]
    public void A_server_address_that_is_not_this_hosts_stops_the_daemon_naming_ServerAddress()
    {
        // TFTP and HTTP boot bind ServerAddress; 198.18.255.254 is on no interface here (the bind fails, nothing is sent).
        var module = new PxeDaemonModule();
        var values = Valid(("LinkKind", "AfPacket"), ("RouterAdvertisements", "false"), ("HttpPort", "0"))
            .Select(v => v.Item1 == "ServerAddress" ? (v.Item1, "198.18.255.254") : v).ToArray();
        var e = Assert.Throws<DaemonConfigException>(() => module.Create(Context(Section(values))));
        Assert.Equal("Modules:Pxe:ServerAddress", e.Key);
        Assert.Contains("not an address of this host", e.Message, StringComparison.Ordinal);
        Assert.Null(module.Services);
    }

    [Fact]
    public void An_absent_section_starts_nothing()
    {
        var module = new PxeDaemonModule();
        Assert.Empty(module.Create(Context(Section())));
        Assert.Null(module.Services);
    }

    [Theory]
    [InlineData("daemon-root.json")]
    [InlineData("daemon-tier1.json")]
    public void The_example_configs_have_a_valid_disabled_section(string file)
    {
        var section = new ConfigurationBuilder().AddJsonFile(Path.Combine(TestDaemon.RepoRoot(), "examples", file)).Build().GetSection(PxeDaemonModule.Section);
        Assert.Equal("False", section["Enabled"]);
        var options = PxeDaemonModule.ReadOptions(section);
        Assert.StartsWith("198.18.", options.ServerAddress!.ToString(), StringComparison.Ordinal);
        Assert.NotNull(options.BootRoot);
    }

    private static DaemonModuleContext Context(IConfigurationSection section) =>
        new(NodeId.DefaultRoot, new StateStore(StateSchema.Default), section, true, TimeProvider.System, NullLoggerFactory.Instance, new ServiceCollection().BuildServiceProvider());
}
