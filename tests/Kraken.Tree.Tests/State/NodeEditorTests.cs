using Kraken.Tree.State;

namespace Kraken.Tree.Tests.State;

public class NodeEditorTests
{
    private readonly StateSchema _schema = StateSchema.CreateDefault();

    [Fact]
    public void A_sparse_write_creates_the_map_entry_and_nested_messages()
    {
        var empty = NodeRecord.Empty(NodeId.NewRandom(), _schema);
        var record = empty.With("/Extensions/IPv4/Interfaces/ib0/Ip", "198.18.5.9");
        var iface = StandardExtensions.Interface(record, "ib0");
        Assert.NotNull(iface);
        Assert.Equal(0xC6120509u, iface.Ip);
        Assert.False(iface.HasMac);
        Assert.Null(StandardExtensions.Interface(empty, "ib0"));
    }

    [Fact]
    public void Writes_never_change_the_source_record()
    {
        var v1 = NodeRecord.Empty(NodeId.NewRandom(), _schema)
            .With("/Extensions/IPv4/Interfaces/eth0/Ip", "198.18.0.1")
            .With("/Services/pxe/State", "RUN");
        var v2 = v1.With("/Extensions/IPv4/Interfaces/eth0/Ip", "198.18.0.2").With("/Services/pxe/State", "STOP");
        Assert.Equal("198.18.0.1", v1.Get("/Extensions/IPv4/Interfaces/eth0/Ip").ToString());
        Assert.Equal("RUN", v1.Get("/Services/pxe/State").ToString());
        Assert.Equal("198.18.0.2", v2.Get("/Extensions/IPv4/Interfaces/eth0/Ip").ToString());
        Assert.Equal("STOP", v2.Get("/Services/pxe/State").ToString());
    }

    [Fact]
    public void A_bad_write_throws_and_leaves_the_draft_unchanged()
    {
        var editor = NodeRecord.Empty(NodeId.NewRandom(), _schema).Edit();
        editor.Set("/PhysState", "POWER_OFF");
        Assert.Throws<InvalidStateValueException>(() => editor.Set(_schema.PhysState, StateValue.FromString("POWER_ON")));
        Assert.Throws<InvalidStateValueException>(() => editor.Set(_schema.PhysState, StateValue.FromEnum(EnumTypes.RunState, 2)));
        Assert.Equal("POWER_OFF", editor.Build().Get("/PhysState").ToString());
    }

    [Fact]
    public void Unset_is_distinct_from_every_value_including_the_first_enum_value()
    {
        var record = NodeRecord.Empty(NodeId.NewRandom(), _schema);
        Assert.Equal(ValueKind.None, record.Get("/PhysState").Kind);
        var unknown = record.With("/PhysState", "PHYS_UNKNOWN");
        Assert.True(unknown.Get("/PhysState").IsSet);
        Assert.Equal(Proto.PhysState.PhysUnknown, unknown.PhysState);
        var noneState = record.With("/Extensions/Pxe/State", "NONE");
        Assert.True(noneState.Get("/Extensions/Pxe/State").IsSet);
        Assert.False(noneState.ValuesEqual(record));
    }

    [Fact]
    public void Clearing_values_and_containers_removes_them()
    {
        var record = NodeRecord.Empty(NodeId.NewRandom(), _schema)
            .With("/Extensions/IPv4/Interfaces/eth0/Ip", "198.18.0.1")
            .With("/Extensions/IPv4/Interfaces/eth1/Ip", "198.18.1.1")
            .With("/Services/pxe/State", "RUN")
            .With("/Arch", "amd64");
        var cleared = record.Edit()
            .Set(_schema.Resolve("/Extensions/IPv4/Interfaces/eth0"), StateValue.None)
            .Set(_schema.Resolve("/Services/pxe"), StateValue.None)
            .Set(_schema.Arch, StateValue.None)
            .Build();
        Assert.Null(StandardExtensions.Interface(cleared, "eth0"));
        Assert.NotNull(StandardExtensions.Interface(cleared, "eth1"));
        Assert.Null(cleared.FindService("pxe"));
        Assert.Null(cleared.Arch);
        Assert.Equal(["/Extensions/IPv4/Interfaces/eth1/Ip"], cleared.Values().Select(kv => kv.Key.Path));
    }

    [Fact]
    public void A_node_cannot_be_its_own_parent()
    {
        var id = NodeId.NewRandom();
        var record = NodeRecord.Empty(id, _schema);
        Assert.Throws<InvalidStateValueException>(() => record.With("/ParentId", id.ToString()));
        Assert.Throws<InvalidStateValueException>(() => record.With("/BackupParents", id.ToString()));
    }

    [Fact]
    public void Values_lists_every_set_leaf_in_canonical_order()
    {
        var record = TestData.TypicalNode(_schema, 7);
        var urls = record.Values().Select(kv => kv.Key.Path).ToList();
        Assert.Equal(
            [
                "/Nodename", "/RunState", "/PhysState", "/Arch", "/Platform", "/ParentId",
                "/Extensions/IPv4/Interfaces/kraken/Device", "/Extensions/IPv4/Interfaces/kraken/Mac",
                "/Extensions/IPv4/Interfaces/kraken/Ip", "/Extensions/IPv4/Interfaces/kraken/Prefix",
                "/Extensions/Pxe/Method", "/Extensions/Pxe/State",
                "/Extensions/Power/Driver", "/Extensions/Power/Address",
                "/Services/node-exporter/State",
            ],
            urls);
        foreach (var (url, value) in record.Values())
        {
            Assert.Equal(value, record.Get(url));
        }
    }

    [Fact]
    public void The_protobuf_form_round_trips()
    {
        var record = TestData.TypicalNode(_schema, 42).With("/BackupParents", NodeId.NewRandom().ToString());
        var bytes = NodeRecordCodec.ToBytes(record);
        var back = NodeRecordCodec.FromBytes(bytes, _schema);
        Assert.True(back.ValuesEqual(record));
        Assert.Equal(record.Values().Select(kv => (kv.Key.Path, kv.Value.ToString())), back.Values().Select(kv => (kv.Key.Path, kv.Value.ToString())));
        Assert.Equal(bytes, NodeRecordCodec.ToBytes(back));
    }

    [Fact]
    public void A_protobuf_record_with_an_unknown_extension_is_rejected_by_name()
    {
        var proto = NodeRecordCodec.ToProto(TestData.TypicalNode(_schema, 1));
        proto.Extensions.Add(new Proto.Extension { Name = "Thermal", Value = Google.Protobuf.ByteString.Empty });
        var ex = Assert.Throws<UnknownStateUrlException>(() => NodeRecordCodec.FromProto(proto, _schema));
        Assert.Contains("Thermal", ex.Message, StringComparison.Ordinal);
    }
}
