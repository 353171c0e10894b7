// Values checked for where they are used: host names, control characters, per-URL and per-record limits, at every write.
using Google.Protobuf;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.StateFiles;

namespace Kraken.Tree.Tests.State;

public class ValueRulesTests
{
    private readonly StateSchema _schema = StateSchema.CreateDefault();

    private StateStore StoreWithNode(out NodeId id)
    {
        var store = new StateStore(_schema);
        id = NodeId.FromName("n1");
        store.Create(NodeRecord.Empty(id, _schema).With("/Nodename", "n1").With("/Extensions/IPv4/Hostname", "n1.cluster"));
        return store;
    }

    [Theory]
    [InlineData("n1")]
    [InlineData("node-001.rack-7.cluster.example")]
    [InlineData("0a")]
    [InlineData("N1")]
    public void Host_names_by_rfc_1123_are_accepted(string name)
    {
        var store = StoreWithNode(out var id);
        store.Set(StateView.Cfg, id, "/Extensions/IPv4/Hostname", name);
        Assert.Equal(name, store.GetRequired(StateView.Cfg, id).Get("/Extensions/IPv4/Hostname").ToString());
    }

    [Theory]
    [InlineData("n1\nchain http://198.18.0.66/evil", "control character")]
    [InlineData("n1 x", "' ' is not a letter")]
    [InlineData("n_1", "'_' is not a letter")]
    [InlineData("-n1", "neither starts nor ends with '-'")]
    [InlineData("n1-", "neither starts nor ends with '-'")]
    [InlineData("a..b", "1 to 63 characters")]
    [InlineData("n1.", "1 to 63 characters")]
    [InlineData("n${net0/mac}", "'$' is not a letter")]
    public void Anything_else_at_a_host_name_url_is_refused_naming_url_and_rule(string name, string rule)
    {
        var store = StoreWithNode(out var id);
        var sequence = store.Sequence;
        var e = Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/IPv4/Hostname", name));
        Assert.Equal("/Extensions/IPv4/Hostname", e.Url);
        Assert.Contains(rule, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal);
        Assert.Equal(sequence, store.Sequence);
        Assert.Equal("n1.cluster", store.GetRequired(StateView.Cfg, id).Get("/Extensions/IPv4/Hostname").ToString());
    }

    [Fact]
    public void Host_names_are_limited_to_63_per_label_and_253_in_all()
    {
        var store = StoreWithNode(out var id);
        var label63 = new string('a', 63);
        store.Set(StateView.Cfg, id, "/Extensions/IPv4/Hostname", label63);
        Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/IPv4/Hostname", label63 + "a"));

        var name253 = string.Join('.', Enumerable.Repeat(label63, 3)) + "." + new string('b', 61);
        Assert.Equal(253, name253.Length);
        store.Set(StateView.Cfg, id, "/Extensions/IPv4/Hostname", name253);
        var e = Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/IPv4/Hostname", name253 + "b"));
        Assert.Contains("253", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_string_url_refuses_control_characters()
    {
        var store = StoreWithNode(out var id);
        string[] urls =
        [
            "/Nodename", "/Arch", "/Platform", "/Extensions/IPv4/Hostname", "/Extensions/IPv4/Interfaces/kraken/Device",
            "/Extensions/Power/Driver", "/Extensions/Power/Address", "/Extensions/Power/User", "/Extensions/Power/Credential", "/Extensions/Power/System",
        ];
        var stringUrls = _schema.Extensions
            .SelectMany(e => e.Descriptor.Fields.InFieldNumberOrder().Where(f => f.FieldType == Google.Protobuf.Reflection.FieldType.String).Select(f => $"/Extensions/{e.Name}/{f.PropertyName}"))
            .Where(u => !u.EndsWith("/Interfaces", StringComparison.Ordinal));
        Assert.Subset(urls.ToHashSet(), stringUrls.ToHashSet()); // a new string field of a standard extension is listed here too

        foreach (var url in urls)
        {
            foreach (var bad in new[] { "a\nb", "a\rb", "a\tb", "a\0b", "a\u001bb", "a\u007fb", "a\u0085b", "a\u2028b", "a\ud800b" })
            {
                var e = Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, url, bad));
                Assert.Equal(url, e.Url);
                Assert.Contains("control character", e.Message, StringComparison.Ordinal);
            }
        }

        Assert.Equal(1UL, store.GetRequired(StateView.Cfg, id).Version);

        // A secret reference is never quoted back.
        var secret = Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/Power/Credential", "hunter2\n"));
        Assert.DoesNotContain("hunter2", secret.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_20_MB_nodename_is_refused_and_strings_have_their_limits()
    {
        var store = StoreWithNode(out var id);
        var huge = new string('n', 20 * 1024 * 1024);
        var e = Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Nodename", huge));
        Assert.Equal("/Nodename", e.Url);
        Assert.Contains($"longer than {ValueRules.MaxNameBytes} bytes", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Length < 400, "the error quotes the start of the value, not all of it");
        Assert.Equal("n1", store.GetRequired(StateView.Cfg, id).Nodename);

        // Names: 253 bytes of UTF-8 (a two-byte character counts twice).
        store.Set(StateView.Cfg, id, "/Nodename", new string('n', 253));
        Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Nodename", new string('n', 252) + "é"));

        // Text in general: 4 KiB unless the schema says otherwise (the driver name: 64).
        store.Set(StateView.Cfg, id, "/Extensions/Power/Address", new string('a', ValueRules.MaxTextBytes));
        Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/Power/Address", new string('a', ValueRules.MaxTextBytes + 1)));
        store.Set(StateView.Cfg, id, "/Extensions/Power/Driver", new string('d', 64));
        Assert.Contains("64 bytes", Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/Power/Driver", new string('d', 65))).Message, StringComparison.Ordinal);

        // Interface names as Linux takes them.
        store.Set(StateView.Cfg, id, "/Extensions/IPv4/Interfaces/kraken/Device", "enp0s31f6");
        Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/IPv4/Interfaces/kraken/Device", "a-very-long-name"));
        Assert.Throws<InvalidStateValueException>(() => store.Set(StateView.Cfg, id, "/Extensions/IPv4/Interfaces/kraken/Device", "eth0:1"));
    }

    [Fact]
    public void A_record_is_limited_to_64_KiB_encoded_whatever_its_values()
    {
        var store = StoreWithNode(out var id);
        var before = store.GetRequired(StateView.Cfg, id);

        // Each value is fine; 800 interfaces with a long address make the record too large.
        var values = new List<KeyValuePair<StateUrl, StateValue>>();
        for (var i = 0; i < 800; i++)
        {
            values.Add(new(_schema.Resolve($"/Extensions/IPv4/Interfaces/if{i:D4}-{new string('k', 64)}/Ip"), StateValue.FromIPv4(0xC6120000u + (uint)i)));
        }

        var e = Assert.Throws<InvalidStateValueException>(() => store.Update(StateView.Cfg, id, values.ToArray()));
        Assert.Equal("/", e.Url);
        Assert.Contains($"at most {ValueRules.MaxRecordBytes}", e.Message, StringComparison.Ordinal);
        Assert.Same(before, store.GetRequired(StateView.Cfg, id));

        // Half of them fit.
        store.Update(StateView.Cfg, id, values.Take(400).ToArray());
        var stored = store.GetRequired(StateView.Cfg, id);
        Assert.Equal(NodeRecordCodec.ToBytes(stored).Length, stored.EncodedSize());
        Assert.InRange(stored.EncodedSize(), 30_000, ValueRules.MaxRecordBytes);
    }

    [Fact]
    public void Encoded_size_is_the_length_of_the_encoded_record()
    {
        var records = new List<NodeRecord> { NodeRecord.Empty(NodeId.FromName("e"), _schema) };
        for (var i = 1; i <= 20; i++)
        {
            var r = TestData.TypicalNode(_schema, i);
            records.Add(r);
            records.Add(r.With("/Platform", new string('p', i * 12)).With("/Services/svc/State", "RUN").With("/RunState", "SYNC"));
        }

        foreach (var r in records)
        {
            Assert.Equal(NodeRecordCodec.ToBytes(r).Length, r.EncodedSize());
        }
    }

    [Fact]
    public void Whole_records_from_elsewhere_are_checked_value_by_value_and_key_by_key()
    {
        var store = StoreWithNode(out var id);
        var ipv4 = new IPv4 { Hostname = "n1\nchain http://198.18.0.66/x" };
        var bad = new Node { Id = ByteString.CopyFrom(id.ToByteArray()), Nodename = "n1" };
        bad.Extensions.Add(new Kraken.Tree.State.Proto.Extension { Name = "IPv4", Value = ipv4.ToByteString() });
        var record = NodeRecordCodec.FromProto(bad, _schema);
        Assert.Equal("/Extensions/IPv4/Hostname", Assert.Throws<InvalidStateValueException>(() => store.Replace(StateView.Cfg, record)).Url);
        var other = NodeId.FromName("other");
        bad.Id = ByteString.CopyFrom(other.ToByteArray());
        Assert.Equal("/Extensions/IPv4/Hostname", Assert.Throws<InvalidStateValueException>(() => store.Create(NodeRecordCodec.FromProto(bad, _schema))).Url);
        Assert.False(store.Contains(other));

        var keyed = new IPv4();
        keyed.Interfaces.Add("eth0\nx", new IPv4.Types.Interface { Ip = 0xC6120001 });
        var badKey = new Node { Id = ByteString.CopyFrom(id.ToByteArray()) };
        badKey.Extensions.Add(new Kraken.Tree.State.Proto.Extension { Name = "IPv4", Value = keyed.ToByteString() });
        var e = Assert.Throws<InvalidStateValueException>(() => store.Replace(StateView.Cfg, NodeRecordCodec.FromProto(badKey, _schema)));
        Assert.Contains("not a valid key", e.Message, StringComparison.Ordinal);
        Assert.Equal(1UL, store.GetRequired(StateView.Cfg, id).Version);
    }

    [Fact]
    public void A_state_file_with_bad_values_names_each_node_and_url_and_imports_nothing()
    {
        var store = new StateStore(_schema);
        var json = """
            {"nodes": [
              {"id": "00000000-0000-4000-8000-000000000001", "nodename": "good", "extensions": {"IPv4": {"hostname": "good"}}},
              {"id": "00000000-0000-4000-8000-000000000002", "nodename": "n2", "extensions": {"IPv4": {"hostname": "n2\nchain http://198.18.0.66/x"}}},
              {"id": "00000000-0000-4000-8000-000000000003", "nodename": "LONG"}
            ]}
            """.Replace("LONG", new string('n', 300), StringComparison.Ordinal);
        var e = Assert.Throws<StateFileException>(() => StateFileImporter.Import(store, System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Equal(2, e.Errors.Count);
        Assert.Equal((1, NodeId.Parse("00000000-0000-4000-8000-000000000002"), "/Extensions/IPv4/Hostname"), (e.Errors[0].NodeIndex, e.Errors[0].Node!.Value, e.Errors[0].Url));
        Assert.Contains("control character", e.Errors[0].Message, StringComparison.Ordinal);
        Assert.Equal((2, NodeId.Parse("00000000-0000-4000-8000-000000000003"), "/Nodename"), (e.Errors[1].NodeIndex, e.Errors[1].Node!.Value, e.Errors[1].Url));
        Assert.Contains("nodes[1] (00000000-0000-4000-8000-000000000002) /Extensions/IPv4/Hostname:", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.Count);
    }
}
