// The kraken.* kernel arguments: every key, defaults, quoting, duplicates, every error with its key and value,
// unknown keys, a real command line, and the round trip through Format.
using System.Net;
using Kraken.Daemon.Boot;
using Kraken.Daemon.Hosting;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Tests.Boot;

public sealed class KernelArgumentsTests
{
    private const string Id = "00000000-0000-4000-8000-000000000011";
    private const string Minimal = $"kraken.id={Id} kraken.mac=52:54:00:18:00:11 kraken.ip=198.18.0.11 kraken.parent=198.18.0.1";

    private static readonly MacAddress s_mac = new(0x5254_0018_0011UL);

    /// <summary>The shape of a real /proc/cmdline after an iPXE boot with the PXE module's default template and a MAC.</summary>
    private const string ProcCmdline =
        "BOOT_IMAGE=http://198.18.0.1:8080/vmlinuz initrd=initrd.img console=ttyS0,115200n8 console=tty0 quiet panic=10 "
        + $"kraken.id={Id} kraken.name=n11 kraken.ip=198.18.0.11 kraken.net=24 kraken.gw= kraken.parent=198.18.0.1 "
        + "kraken.mac=52:54:00:18:00:11 net.ifnames=0\n";

    [Fact]
    public void A_real_command_line_gives_the_arguments_with_their_defaults()
    {
        var arguments = KernelArguments.Parse(ProcCmdline);

        Assert.Equal(NodeId.Parse(Id), arguments.Id);
        Assert.Equal("n11", arguments.Name);
        Assert.Equal(s_mac, arguments.Mac);
        Assert.Null(arguments.Interface);
        Assert.Equal(IPAddress.Parse("198.18.0.11"), arguments.Address);
        Assert.Equal(24, arguments.PrefixLength);
        Assert.Null(arguments.Gateway);                                   // kraken.gw= : none
        Assert.Equal([new IPEndPoint(IPAddress.Parse("198.18.0.1"), 31415)], arguments.Parents);
        Assert.Null(arguments.BootUrl);
        Assert.Equal(new Uri("http://0.0.0.0:3141"), arguments.ApiUrl);
        Assert.Equal(LogLevel.Information, arguments.LogLevel);
        Assert.Null(arguments.Mtu);
        Assert.Equal("/etc/kraken/bootstrap", arguments.BootstrapPath);
    }

    [Fact]
    public void The_host_command_line_with_kraken_arguments_appended_parses()
    {
        // Whatever this machine booted with (BOOT_IMAGE, root=UUID=..., quoted values, init's arguments after
        // "--") is ignored; the kraken arguments go first, since after a "--" they would be init's.
        var host = File.ReadAllText("/proc/cmdline").TrimEnd('\n');
        Assert.DoesNotContain("kraken.", host, StringComparison.Ordinal);

        var arguments = KernelArguments.Parse($"{Minimal} {host}\n");

        Assert.Equal(NodeId.Parse(Id), arguments.Id);
        Assert.Throws<DaemonConfigException>(() => KernelArguments.Parse(host));
    }

    [Fact]
    public void Every_key_is_read()
    {
        var arguments = KernelArguments.Parse(
            $"kraken.id={Id} kraken.name=node-11.rack_2 kraken.mac=52-54-00-18-00-11 kraken.iface=enp1s0 kraken.ip=198.18.4.11 kraken.net=22 "
            + "kraken.gw=198.18.4.1 kraken.parent=198.18.4.1:4000,198.18.4.2,198.18.4.3:31416 kraken.boot=http://198.18.4.1:8080/ "
            + "kraken.api=http://198.18.4.11:8000 kraken.log=debug kraken.mtu=9000 kraken.bootstrap=/run/kraken/credential");

        Assert.Equal("node-11.rack_2", arguments.Name);
        Assert.Equal(s_mac, arguments.Mac);
        Assert.Equal("enp1s0", arguments.Interface);
        Assert.Equal(IPAddress.Parse("198.18.4.11"), arguments.Address);
        Assert.Equal(22, arguments.PrefixLength);
        Assert.Equal(IPAddress.Parse("198.18.4.1"), arguments.Gateway);
        Assert.Equal(["198.18.4.1:4000", "198.18.4.2:31415", "198.18.4.3:31416"], arguments.Parents.Select(p => p.ToString()));
        Assert.Equal(new Uri("http://198.18.4.1:8080/"), arguments.BootUrl);
        Assert.Equal(new Uri("http://198.18.4.11:8000"), arguments.ApiUrl);
        Assert.Equal(LogLevel.Debug, arguments.LogLevel);
        Assert.Equal(9000, arguments.Mtu);
        Assert.Equal("/run/kraken/credential", arguments.BootstrapPath);
    }

    [Theory]
    [InlineData("52:54:00:18:00:11", 0x5254_0018_0011UL)]
    [InlineData("52-54-00-18-00-11", 0x5254_0018_0011UL)]
    [InlineData("525400180011", 0x5254_0018_0011UL)]
    [InlineData("02:AB:cd:EF:00:1a", 0x02ab_cdef_001aUL)]
    [InlineData("02-ab-CD-ef-00-1A", 0x02ab_cdef_001aUL)]
    [InlineData("02ABcdEF001a", 0x02ab_cdef_001aUL)]
    public void A_mac_is_read_in_each_form_and_either_case(string mac, ulong expected)
    {
        var text = $"kraken.id={Id} kraken.mac={mac} kraken.ip=198.18.0.11 kraken.parent=198.18.0.1";
        Assert.Equal(new MacAddress(expected), KernelArguments.Parse(text).Mac);
    }

    [Fact]
    public void The_interface_name_serves_when_no_mac_is_given_and_the_prefix_may_ride_on_the_address()
    {
        var arguments = KernelArguments.Parse($"kraken.id={Id} kraken.iface=eth0 kraken.ip=198.18.0.11/16 kraken.parent=198.18.0.1 kraken.gw=198.18.7.1");

        Assert.Null(arguments.Mac);
        Assert.Equal("eth0", arguments.Interface);
        Assert.Equal(16, arguments.PrefixLength);
        Assert.Equal(IPAddress.Parse("198.18.7.1"), arguments.Gateway);
        Assert.Equal(16, KernelArguments.Parse($"{Minimal} kraken.ip=198.18.0.11/16 kraken.net=16").PrefixLength);
    }

    [Fact]
    public void Quoted_values_keep_their_spaces()
    {
        Assert.Equal("/run/kraken/boot strap", KernelArguments.Parse($"{Minimal} kraken.bootstrap=\"/run/kraken/boot strap\" quiet").BootstrapPath);
        Assert.Equal("/run/a b", KernelArguments.Parse($"\"kraken.bootstrap=/run/a b\" {Minimal}").BootstrapPath);
        Assert.Equal("n11", KernelArguments.Parse($"{Minimal} kraken.name=\"n11\"").Name);
        Assert.Equal(IPAddress.Parse("198.18.0.12"), KernelArguments.Parse($"{Minimal} \"kraken.ip=198.18.0.12\"").Address);
    }

    [Fact]
    public void Of_repeated_keys_the_last_wins_as_in_the_kernel()
    {
        var arguments = KernelArguments.Parse($"{Minimal} kraken.ip=198.18.0.12 kraken.gw=198.18.0.1 kraken.log=Error kraken.gw= kraken.log=Warning");

        Assert.Equal(IPAddress.Parse("198.18.0.12"), arguments.Address);
        Assert.Null(arguments.Gateway);
        Assert.Equal(LogLevel.Warning, arguments.LogLevel);
    }

    [Fact]
    public void Other_arguments_and_whatever_follows_a_bare_double_dash_are_ignored()
    {
        var arguments = KernelArguments.Parse($"kraken=1 krakenx.id=2 Kraken.Id=3 my.kraken.id=4 {Minimal} -- kraken.bogus=5 kraken.ip=1.2.3.4");

        Assert.Equal(IPAddress.Parse("198.18.0.11"), arguments.Address);
    }

    [Fact]
    public void Empty_optional_values_leave_the_defaults()
    {
        var arguments = KernelArguments.Parse($"{Minimal} kraken.name= kraken.iface= kraken.net= kraken.boot= kraken.api= kraken.log= kraken.mtu= kraken.bootstrap=");

        Assert.Equal(KernelArguments.Parse(Minimal), arguments);
        Assert.Equal(24, arguments.PrefixLength);
    }

    [Theory]
    // Required keys.
    [InlineData("kraken.id=", "kraken.id", "kraken.id: is required (this node's id, a UUID)")]
    [InlineData("kraken.id", "kraken.id", "kraken.id: needs a value (kraken.id=...)")]
    [InlineData("kraken.id=node-11", "kraken.id", "kraken.id: 'node-11' is not a UUID")]
    [InlineData("kraken.id=00000000-0000-0000-0000-000000000000", "kraken.id", "kraken.id: '00000000-0000-0000-0000-000000000000' is the nil UUID, not a node id")]
    [InlineData("kraken.ip=", "kraken.ip", "kraken.ip: is required (the uplink's IPv4 address, A.B.C.D or A.B.C.D/P)")]
    [InlineData("kraken.parent=", "kraken.parent", "kraken.parent: is required (the parents' addresses, ADDR[:PORT][,ADDR[:PORT]...], default port 31415)")]
    [InlineData("kraken.mac= kraken.iface=", "kraken.mac", "kraken.mac: is required, or kraken.iface (the uplink NIC by MAC, or by name)")]
    // Values.
    [InlineData("kraken.name=n/11", "kraken.name", "kraken.name: 'n/11' is not a host name (dot-separated labels of 1..63 letters, digits, '-' and '_', at most 253)")]
    [InlineData("kraken.name=\"n 11\"", "kraken.name", "kraken.name: 'n 11' is not a host name (dot-separated labels of 1..63 letters, digits, '-' and '_', at most 253)")]
    [InlineData("kraken.mac=52:54:00:18:00", "kraken.mac", "kraken.mac: '52:54:00:18:00' is not a MAC address (52:54:00:18:00:11, 52-54-00-18-00-11 or 525400180011)")]
    [InlineData("kraken.mac=52:54-00:18:00:11", "kraken.mac", "kraken.mac: '52:54-00:18:00:11' is not a MAC address (52:54:00:18:00:11, 52-54-00-18-00-11 or 525400180011)")]
    [InlineData("kraken.mac=5254001800zz", "kraken.mac", "kraken.mac: '5254001800zz' is not a MAC address (52:54:00:18:00:11, 52-54-00-18-00-11 or 525400180011)")]
    [InlineData("kraken.mac=01:00:5e:00:00:01", "kraken.mac", "kraken.mac: '01:00:5e:00:00:01' is not a NIC's address (zero, multicast or broadcast)")]
    [InlineData("kraken.mac=00:00:00:00:00:00", "kraken.mac", "kraken.mac: '00:00:00:00:00:00' is not a NIC's address (zero, multicast or broadcast)")]
    [InlineData("kraken.iface=eth0/1", "kraken.iface", "kraken.iface: 'eth0/1' is not an interface name (1..15 characters, no '/', ':', '\"' or space)")]
    [InlineData("kraken.iface=e\"t\"h0", "kraken.iface", "kraken.iface: 'e\"t\"h0' is not an interface name (1..15 characters, no '/', ':', '\"' or space)")] // found by the kernel-args fuzz target: parsed, but could not be written back
    [InlineData("kraken.iface=a-very-long-name0", "kraken.iface", "kraken.iface: 'a-very-long-name0' is not an interface name (1..15 characters, no '/', ':', '\"' or space)")]
    [InlineData("kraken.ip=198.18.0", "kraken.ip", "kraken.ip: '198.18.0' is not an IPv4 address (A.B.C.D)")]
    [InlineData("kraken.ip=198.18.0.256", "kraken.ip", "kraken.ip: '198.18.0.256' is not an IPv4 address (A.B.C.D)")]
    [InlineData("kraken.ip=198.18.0.011", "kraken.ip", "kraken.ip: '198.18.0.011' is not an IPv4 address (A.B.C.D)")]
    [InlineData("kraken.ip=fd00::11", "kraken.ip", "kraken.ip: 'fd00::11' is not an IPv4 address (A.B.C.D)")]
    [InlineData("kraken.ip=198.18.0.11/33", "kraken.ip", "kraken.ip: '198.18.0.11/33' does not end in a prefix length (/0../32)")]
    [InlineData("kraken.ip=198.18.0.11/", "kraken.ip", "kraken.ip: '198.18.0.11/' does not end in a prefix length (/0../32)")]
    [InlineData("kraken.ip=127.0.0.1", "kraken.ip", "kraken.ip: '127.0.0.1' is not a unicast address (not 0.0.0.0, 127/8, multicast or broadcast)")]
    [InlineData("kraken.ip=224.0.0.5", "kraken.ip", "kraken.ip: '224.0.0.5' is not a unicast address (not 0.0.0.0, 127/8, multicast or broadcast)")]
    [InlineData("kraken.ip=198.18.0.0", "kraken.ip", "kraken.ip: '198.18.0.0' is the network address of 198.18.0.0/24")]
    [InlineData("kraken.ip=198.18.0.255", "kraken.ip", "kraken.ip: '198.18.0.255' is the broadcast address of 198.18.0.255/24")]
    [InlineData("kraken.net=40", "kraken.net", "kraken.net: '40' is not a prefix length (0..32)")]
    [InlineData("kraken.net=/24", "kraken.net", "kraken.net: '/24' is not a prefix length (0..32)")]
    [InlineData("kraken.ip=198.18.0.11/24 kraken.net=16", "kraken.net", "kraken.net: '16' differs from the prefix length in kraken.ip=198.18.0.11/24")]
    [InlineData("kraken.gw=198.18.1.1", "kraken.gw", "kraken.gw: '198.18.1.1' is not another address in 198.18.0.11/24")]
    [InlineData("kraken.gw=198.18.0.11", "kraken.gw", "kraken.gw: '198.18.0.11' is not another address in 198.18.0.11/24")]
    [InlineData("kraken.gw=router", "kraken.gw", "kraken.gw: 'router' is not an IPv4 address (A.B.C.D)")]
    [InlineData("kraken.parent=198.18.0.1,,198.18.0.2", "kraken.parent", "kraken.parent: '198.18.0.1,,198.18.0.2' has an empty entry")]
    [InlineData("kraken.parent=198.18.0.1:0", "kraken.parent", "kraken.parent: '198.18.0.1:0' does not end in a port (1..65535)")]
    [InlineData("kraken.parent=198.18.0.1:65536", "kraken.parent", "kraken.parent: '198.18.0.1:65536' does not end in a port (1..65535)")]
    [InlineData("kraken.parent=198.18.0.1:", "kraken.parent", "kraken.parent: '198.18.0.1:' does not end in a port (1..65535)")]
    [InlineData("kraken.parent=parent.cluster:31415", "kraken.parent", "kraken.parent: 'parent.cluster' is not an IPv4 address (A.B.C.D)")]
    [InlineData("kraken.parent=198.18.0.1,198.18.0.1:31415", "kraken.parent", "kraken.parent: '198.18.0.1:31415' is listed twice")]
    [InlineData("kraken.parent=0.0.0.0", "kraken.parent", "kraken.parent: '0.0.0.0' is not a unicast address (not 0.0.0.0, 127/8, multicast or broadcast)")]
    [InlineData("kraken.boot=ftp://198.18.0.1/", "kraken.boot", "kraken.boot: 'ftp://198.18.0.1/' is not an http://ADDR:PORT/ URL")]
    [InlineData("kraken.boot=198.18.0.1:8080", "kraken.boot", "kraken.boot: '198.18.0.1:8080' is not an http://ADDR:PORT/ URL")]
    [InlineData("kraken.boot=boot/", "kraken.boot", "kraken.boot: 'boot/' is not an http://ADDR:PORT/ URL")]
    [InlineData("kraken.api=http://0.0.0.0:3141/api", "kraken.api", "kraken.api: 'http://0.0.0.0:3141/api' is not an http://ADDR:PORT URL")]
    [InlineData("kraken.api=https://0.0.0.0:3141", "kraken.api", "kraken.api: 'https://0.0.0.0:3141' is not an http://ADDR:PORT URL")]
    [InlineData("kraken.log=loud", "kraken.log", "kraken.log: 'loud' is not a log level (Trace, Debug, Information, Warning, Error, Critical)")]
    [InlineData("kraken.log=None", "kraken.log", "kraken.log: 'None' is not a log level (Trace, Debug, Information, Warning, Error, Critical)")]
    [InlineData("kraken.log=2", "kraken.log", "kraken.log: '2' is not a log level (Trace, Debug, Information, Warning, Error, Critical)")]
    [InlineData("kraken.mtu=9k", "kraken.mtu", "kraken.mtu: '9k' is not an MTU (68..65535)")]
    [InlineData("kraken.mtu=67", "kraken.mtu", "kraken.mtu: '67' is not an MTU (68..65535)")]
    [InlineData("kraken.mtu=65536", "kraken.mtu", "kraken.mtu: '65536' is not an MTU (68..65535)")]
    [InlineData("kraken.bootstrap=etc/kraken/bootstrap", "kraken.bootstrap", "kraken.bootstrap: 'etc/kraken/bootstrap' is not an absolute path without quotes or control characters")]
    [InlineData("kraken.bootstrap=/etc/a\"b\"", "kraken.bootstrap", "kraken.bootstrap: '/etc/a\"b\"' is not an absolute path without quotes or control characters")]
    [InlineData("kraken.bootstrap=/etc/a\u0001b", "kraken.bootstrap", "kraken.bootstrap: '/etc/a\u0001b' is not an absolute path without quotes or control characters")]
    // Unknown keys.
    [InlineData("kraken.gateway=198.18.0.1", "kraken.gateway", "kraken.gateway: unknown kernel argument; known: kraken.api, kraken.boot, kraken.bootstrap, kraken.gw, kraken.id, kraken.iface, kraken.initrd, kraken.ip, kraken.kernel, kraken.log, kraken.mac, kraken.mtu, kraken.name, kraken.net, kraken.parent")]
    [InlineData("kraken.ID=x", "kraken.ID", "kraken.ID: unknown kernel argument; known: kraken.api, kraken.boot, kraken.bootstrap, kraken.gw, kraken.id, kraken.iface, kraken.initrd, kraken.ip, kraken.kernel, kraken.log, kraken.mac, kraken.mtu, kraken.name, kraken.net, kraken.parent")]
    [InlineData("kraken.=1", "kraken.", "kraken.: unknown kernel argument; known: kraken.api, kraken.boot, kraken.bootstrap, kraken.gw, kraken.id, kraken.iface, kraken.initrd, kraken.ip, kraken.kernel, kraken.log, kraken.mac, kraken.mtu, kraken.name, kraken.net, kraken.parent")]
    public void Every_error_names_the_key_and_the_bad_value(string change, string key, string message)
    {
        // Appended after valid values: the last occurrence of a key wins.
        var e = Assert.Throws<DaemonConfigException>(() => KernelArguments.Parse($"console=ttyS0 {Minimal} {change} quiet"));

        Assert.Equal(key, e.Key);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void An_unknown_key_is_an_error_even_when_everything_else_is_fine_or_missing()
    {
        Assert.Equal("kraken.foo", Assert.Throws<DaemonConfigException>(() => KernelArguments.Parse("kraken.foo=1")).Key);
        Assert.Equal("kraken.id", Assert.Throws<DaemonConfigException>(() => KernelArguments.Parse("console=ttyS0 quiet")).Key);
    }

    public static TheoryData<string> Records() =>
    [
        Minimal,
        ProcCmdline,
        $"kraken.id={Id} kraken.iface=eth1 kraken.ip=10.1.2.3/8 kraken.parent=198.18.0.1:1,198.18.0.2:2",
        $"kraken.id={Id} kraken.name=n-1 kraken.mac=02:00:00:00:00:01 kraken.iface=eth0 kraken.ip=198.18.0.2/31 kraken.gw=198.18.0.3 kraken.parent=198.18.0.3 "
            + "kraken.boot=http://198.18.0.3:8080/boot/ kraken.api=http://198.18.0.2:80 kraken.log=Trace kraken.mtu=1500 kraken.bootstrap=\"/run/my kraken/bootstrap\"",
        $"kraken.id={Id} kraken.mac=525400180011 kraken.ip=198.18.0.11 kraken.net=0 kraken.parent=198.18.0.1 kraken.log=critical kraken.api=http://0.0.0.0:3141/",
    ];

    [Theory]
    [MemberData(nameof(Records))]
    public void Format_renders_arguments_that_parse_back_to_an_equal_record(string commandLine)
    {
        var arguments = KernelArguments.Parse(commandLine);

        var formatted = arguments.Format();
        var again = KernelArguments.Parse(formatted);

        Assert.Equal(arguments, again);
        Assert.Equal(formatted, again.Format());
        Assert.Equal(formatted, arguments.ToString());
        Assert.All(KernelCommandLine.Split(formatted), p => Assert.StartsWith("kraken.", p.Key, StringComparison.Ordinal));
    }

    [Fact]
    public void Format_writes_required_keys_and_only_optional_ones_that_differ_from_their_defaults()
    {
        var arguments = new KernelArguments
        {
            Id = NodeId.Parse(Id),
            Mac = s_mac,
            Address = IPAddress.Parse("198.18.0.11"),
            Parents = [new IPEndPoint(IPAddress.Parse("198.18.0.1"), 31415), new IPEndPoint(IPAddress.Parse("198.18.0.2"), 4000)],
            BootstrapPath = "/run/boot strap",
            LogLevel = LogLevel.Debug,
        };

        Assert.Equal(
            $"kraken.id={Id} kraken.mac=52:54:00:18:00:11 kraken.ip=198.18.0.11 kraken.net=24 kraken.parent=198.18.0.1:31415,198.18.0.2:4000 kraken.log=Debug kraken.bootstrap=\"/run/boot strap\"",
            arguments.Format());
        Assert.Equal(arguments, KernelArguments.Parse(arguments.Format()));
        Assert.NotEqual(arguments, arguments with { Parents = [.. arguments.Parents.Reverse()] });
    }

    [Fact]
    public void A_record_built_in_code_with_a_bad_value_is_refused_naming_the_key()
    {
        var valid = KernelArguments.Parse(Minimal);

        Assert.Equal("kraken.net", Assert.Throws<DaemonConfigException>(() => (valid with { PrefixLength = 33 }).Format()).Key);
        Assert.Equal("kraken.id", Assert.Throws<DaemonConfigException>(() => (valid with { Id = NodeId.Nil }).Format()).Key);
        Assert.Equal("kraken.parent", Assert.Throws<DaemonConfigException>(() => (valid with { Parents = [] }).Validate()).Key);
        Assert.Equal("kraken.ip", Assert.Throws<DaemonConfigException>(() => (valid with { Address = IPAddress.IPv6Loopback }).Validate()).Key);
        Assert.Equal("kraken.name", Assert.Throws<DaemonConfigException>(() => (valid with { Name = "a\"b" }).Format()).Key);
        Assert.Equal("kraken.log", Assert.Throws<DaemonConfigException>(() => (valid with { LogLevel = LogLevel.None }).Format()).Key);
    }

    [Fact]
    public void The_uplink_carries_the_network_arguments()
    {
        var uplink = KernelArguments.Parse($"{Minimal} kraken.gw=198.18.0.1 kraken.mtu=9000 kraken.iface=eth0").ToUplink();

        Assert.Equal(s_mac, uplink.Mac);
        Assert.Equal("eth0", uplink.InterfaceName);
        Assert.Equal(IPAddress.Parse("198.18.0.11"), uplink.Address);
        Assert.Equal(24, uplink.PrefixLength);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), uplink.Gateway);
        Assert.Equal(9000, uplink.Mtu);
        uplink.Validate();
    }

    [Fact]
    public void Read_takes_a_file_and_names_it_when_it_cannot()
    {
        var path = Path.Combine(Path.GetTempPath(), $"kraken-cmdline-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(path, ProcCmdline);
            Assert.Equal(KernelArguments.Parse(ProcCmdline), KernelArguments.Read(path));
        }
        finally
        {
            File.Delete(path);
        }

        var e = Assert.Throws<DaemonConfigException>(() => KernelArguments.Read(path));
        Assert.Equal(path, e.Key);
        Assert.Contains("cannot read the kernel command line", e.Message, StringComparison.Ordinal);
    }
}
