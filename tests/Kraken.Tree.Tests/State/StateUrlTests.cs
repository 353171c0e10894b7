using Kraken.Tree.State;

namespace Kraken.Tree.Tests.State;

public class StateUrlTests
{
    private readonly StateSchema _schema = StateSchema.CreateDefault();

    [Theory]
    [InlineData("/Nodename", "kr1")]
    [InlineData("/RunState", "SYNC")]
    [InlineData("/PhysState", "POWER_ON")]
    [InlineData("/Arch", "aarch64")]
    [InlineData("/Platform", "qemu")]
    [InlineData("/ParentId", "123e4567-e89b-12d3-a456-426655440000")]
    [InlineData("/BackupParents", "00000000-0000-4000-8000-000000000101,00000000-0000-4000-8000-000000000102")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Device", "enp1s0")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Mac", "52:54:00:18:00:01")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Ip", "198.18.0.10")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Prefix", "24")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Gateway", "198.18.0.1")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Mtu", "9000")]
    [InlineData("/Extensions/IPv4/Hostname", "kr1.cluster")]
    [InlineData("/Extensions/Pxe/Method", "IPXE")]
    [InlineData("/Extensions/Pxe/State", "COMP")]
    [InlineData("/Extensions/Power/Driver", "redfish")]
    [InlineData("/Extensions/Power/Address", "198.19.0.5")]
    [InlineData("/Extensions/Power/Port", "623")]
    [InlineData("/Extensions/Power/User", "admin")]
    [InlineData("/Extensions/Power/Credential", "bmc-default")]
    [InlineData("/Extensions/Power/System", "System.Embedded.1")]
    [InlineData("/Services/pxe/State", "RUN")]
    public void Every_field_resolves_and_round_trips_its_text_value(string url, string text)
    {
        var resolved = _schema.Resolve(url);
        Assert.Equal(url, resolved.Path);
        Assert.True(resolved.IsLeaf);

        var record = NodeRecord.Empty(NodeId.NewRandom(), _schema);
        Assert.False(resolved.Get(record).IsSet);
        var written = record.With(url, text);
        Assert.Equal(text, written.Get(url).ToString());
        Assert.Equal(text, resolved.Get(written).ToString());
        Assert.False(resolved.Get(record).IsSet);
    }

    [Fact]
    public void Id_is_readable_but_not_writable()
    {
        var id = NodeId.NewRandom();
        var record = NodeRecord.Empty(id, _schema);
        Assert.Equal(id, record.Get("/Id").NodeId);
        var ex = Assert.Throws<InvalidStateValueException>(() => record.With("/Id", NodeId.NewRandom().ToString()));
        Assert.Contains("read-only", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PhysState", "/PhysState")]
    [InlineData("/physstate/", "/PhysState")]
    [InlineData("extensions/ipv4/interfaces/eth0/ip", "/Extensions/IPv4/Interfaces/eth0/Ip")]
    [InlineData("/Services/pxe/state", "/Services/pxe/State")]
    [InlineData("type.googleapis.com/PXE.Client/State", "/Extensions/Pxe/State")]
    [InlineData("type.googleapis.com/IPv4.IPv4OverEthernet/Ifaces/kraken/Ip/Ip", "/Extensions/IPv4/Interfaces/kraken/Ip")]
    [InlineData("type.googleapis.com/IPv4.IPv4OverEthernet/Ifaces/kraken/Eth/Mac", "/Extensions/IPv4/Interfaces/kraken/Mac")]
    [InlineData("type.googleapis.com/IPv4.IPv4OverEthernet/Ifaces/kraken/Eth/Iface", "/Extensions/IPv4/Interfaces/kraken/Device")]
    [InlineData("type.googleapis.com/VBox.VirtualMachine/VmName", "/Extensions/Power/System")]
    public void Aliases_resolve_to_the_same_interned_url(string alias, string canonical)
    {
        var a = _schema.Resolve(alias);
        var b = _schema.Resolve(canonical);
        Assert.Same(b, a);
        Assert.Equal(canonical, a.Path);
    }

    [Theory]
    [InlineData("/PowerState", "/Nodename", "/PhysState", "/Extensions/<IPv4|Pxe|Power>", "/Services/<service id>")]
    [InlineData("/Extensions/Bmc/Address", "IPv4", "Pxe", "Power")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Address", "Device", "Mac", "Ip", "Prefix", "Gateway", "Mtu")]
    [InlineData("/Extensions/Pxe/Stage", "Method", "State")]
    [InlineData("/Services/pxe/Status", "State")]
    [InlineData("/PhysState/Value", "/PhysState is a value")]
    [InlineData("type.googleapis.com/RPi3.Pi/Pxe", "RPi3.Pi", "PXE.Client")]
    [InlineData("", "empty")]
    [InlineData("/Extensions//Pxe", "empty segment")]
    public void Unknown_urls_name_the_url_and_list_what_is_valid(string url, params string[] mentions)
    {
        var ex = Assert.Throws<UnknownStateUrlException>(() => _schema.Resolve(url));
        Assert.Equal(url, ex.Url);
        Assert.Contains($"'{url}'", ex.Message, StringComparison.Ordinal);
        foreach (var m in mentions)
        {
            Assert.Contains(m, ex.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/PhysState", "POWER_UP", "PHYS_UNKNOWN, POWER_OFF, POWER_ON, POWER_CYCLE, PHYS_HANG, PHYS_ERROR")]
    [InlineData("/RunState", "RUNNING", "UNKNOWN, INIT, SYNC, ERROR")]
    [InlineData("/Extensions/Pxe/State", "DONE", "NONE, WAIT, INIT, COMP")]
    [InlineData("/Services/pxe/State", "STARTED", "UNKNOWN, INIT, STOP, RUN, ERROR")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Ip", "198.18.0.300", "IPv4 address")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Mac", "52:54:00:18:00", "MAC address")]
    [InlineData("/Extensions/IPv4/Interfaces/eth0/Prefix", "33", "from 0 to 32")]
    [InlineData("/Extensions/Power/Port", "-1", "from 0 to 65535")]
    [InlineData("/ParentId", "not-a-uuid", "node id")]
    public void Bad_values_name_the_url_and_what_is_valid(string url, string value, string valid)
    {
        var record = NodeRecord.Empty(NodeId.NewRandom(), _schema);
        var ex = Assert.Throws<InvalidStateValueException>(() => record.With(url, value));
        Assert.Equal(url, ex.Url);
        Assert.Contains(url, ex.Message, StringComparison.Ordinal);
        Assert.Contains(value, ex.Message, StringComparison.Ordinal);
        Assert.Contains(valid, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enum_values_are_accepted_by_number_and_reported_by_name()
    {
        var record = NodeRecord.Empty(NodeId.NewRandom(), _schema).With("/PhysState", "2");
        Assert.Equal("POWER_ON", record.Get("/PhysState").ToString());
        Assert.Equal(Proto.PhysState.PowerOn, record.PhysState);
    }

    [Fact]
    public void Containers_are_not_values()
    {
        var iface = _schema.Resolve("/Extensions/IPv4/Interfaces/eth0");
        Assert.False(iface.IsLeaf);
        Assert.Equal(UrlKind.MapEntry, iface.Kind);
        var record = NodeRecord.Empty(NodeId.NewRandom(), _schema);
        var ex = Assert.Throws<InvalidStateValueException>(() => record.With(iface, StateValue.FromString("x")));
        Assert.Contains("container", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registering_an_extension_makes_its_urls_resolvable()
    {
        var schema = StateSchema.CreateDefault();
        Assert.Throws<UnknownStateUrlException>(() => schema.Resolve("/Extensions/Test/State"));
        schema.RegisterExtension("Test", Proto.Pxe.Descriptor);
        Assert.True(schema.Resolve("/Extensions/Test/State").IsLeaf);
        Assert.Throws<InvalidOperationException>(() => schema.RegisterExtension("Test", Proto.Power.Descriptor));
    }
}
