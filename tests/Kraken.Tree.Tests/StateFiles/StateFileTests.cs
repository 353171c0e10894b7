using Kraken.Tree.State;
using Kraken.Tree.StateFiles;

namespace Kraken.Tree.Tests.StateFiles;

public class StateFileTests
{
    private readonly StateSchema _schema = StateSchema.CreateDefault();

    private const string ParentA = "00000000-0000-4000-8000-000000000101";
    private const string ParentB = "00000000-0000-4000-8000-000000000102";

    [Fact]
    public void The_example_cluster_loads_as_three_tiers()
    {
        var store = new StateStore(_schema);
        var result = StateFileImporter.ImportFile(store, TestData.ExamplePath("cluster-3tier.json"));
        Assert.Equal(9, result.Created);
        Assert.Empty(result.Warnings);

        var cfg = store.Snapshot(StateView.Cfg);
        var root = Assert.Single(cfg, n => n.ParentId is null);
        Assert.Equal(NodeId.DefaultRoot, root.Id);
        var tier1 = cfg.Where(n => n.ParentId == root.Id).ToList();
        Assert.Equal(2, tier1.Count);
        var leaves = cfg.Where(n => n.ParentId is { } p && tier1.Any(t => t.Id == p)).ToList();
        Assert.Equal(6, leaves.Count);
        Assert.All(leaves, l => Assert.Single(l.BackupParents));
        Assert.All(leaves, l => Assert.NotEqual(l.ParentId, l.BackupParents[0]));
        Assert.Equal("198.18.1.11", cfg.Single(n => n.Nodename == "n101").Get("/Extensions/IPv4/Interfaces/kraken/Ip").ToString());
    }

    [Fact]
    public void Export_then_import_round_trips_exactly()
    {
        var store = new StateStore(_schema);
        StateFileImporter.ImportFile(store, TestData.ExamplePath("cluster-3tier.json"));
        var exported = StateFileWriter.WriteToString(store.Snapshot(StateView.Cfg));

        var again = new StateStore(_schema);
        StateFileImporter.Import(again, System.Text.Encoding.UTF8.GetBytes(exported));
        Assert.Equal(exported, StateFileWriter.WriteToString(again.Snapshot(StateView.Cfg)));
        foreach (var node in store.Snapshot(StateView.Cfg))
        {
            Assert.True(node.ValuesEqual(again.GetRequired(StateView.Cfg, node.Id)), $"{node.Nodename} differs");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(700)]
    [InlineData(64 * 1024)]
    public async Task A_streamed_export_has_the_same_bytes_as_the_buffered_one(int flushBytes)
    {
        // Typical nodes (interfaces, PXE, power, services) in shuffled order: the stream must sort as the buffer does.
        var nodes = Enumerable.Range(1, 600).Select(n => TestData.TypicalNode(_schema, n)).Reverse().ToList();
        var expected = new System.Buffers.ArrayBufferWriter<byte>();
        StateFileWriter.Write(nodes, expected);

        var output = new CountingStream();
        await StateFileWriter.WriteAsync(nodes, output, CancellationToken.None, flushBytes);
        Assert.Equal(expected.WrittenSpan.ToArray(), output.ToArray());

        // It went out in pieces near the flush size, never as one document (the last piece is the closing "\n").
        Assert.True(output.Writes > expected.WrittenCount / Math.Max(flushBytes, 2048) / 2, $"{output.Writes} writes for {expected.WrittenCount} bytes");
        Assert.True(output.LargestWrite < flushBytes + 16 * 1024, $"a write of {output.LargestWrite} bytes");
    }

    /// <summary>A memory stream that counts the writes it is given and the largest.</summary>
    private sealed class CountingStream : MemoryStream
    {
        public int Writes { get; private set; }

        public int LargestWrite { get; private set; }

        public override void Write(byte[] buffer, int offset, int count) => Count(count, () => base.Write(buffer, offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Writes++;
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            base.Write(buffer);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            base.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private void Count(int count, Action write)
        {
            Writes++;
            LargestWrite = Math.Max(LargestWrite, count);
            write();
        }
    }

    [Fact]
    public void Export_is_sorted_and_leaves_unset_values_out()
    {
        var nodes = new[]
        {
            NodeRecord.Empty(NodeId.Parse("00000000-0000-4000-8000-000000000002"), _schema).With("/Nodename", "b"),
            NodeRecord.Empty(NodeId.Parse("00000000-0000-4000-8000-000000000001"), _schema).With("/Nodename", "a").With("/PhysState", "PHYS_UNKNOWN"),
        };
        var json = StateFileWriter.WriteToString(nodes);
        Assert.True(json.IndexOf("\"a\"", StringComparison.Ordinal) < json.IndexOf("\"b\"", StringComparison.Ordinal));
        Assert.Contains("\"physState\": \"PHYS_UNKNOWN\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("runState", json, StringComparison.Ordinal);
        Assert.DoesNotContain("extensions", json, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_file_reports_every_error_with_node_and_url_and_imports_nothing()
    {
        var store = new StateStore(_schema);
        var existing = store.Create(TestData.TypicalNode(_schema, 1));
        const string json = """
        {"nodes": [
          {"id": "00000000-0000-4000-8000-000000000201", "nodename": "ok", "parentId": "00000000-0000-4000-8000-000000000001"},
          {"id": "00000000-0000-4000-8000-000000000202", "physState": "POWER_UP",
           "extensions": {"IPv4": {"interfaces": {"eth0": {"ip": "198.18.0.300", "prefix": 40}}}}},
          {"id": "00000000-0000-4000-8000-000000000203", "parentId": "00000000-0000-4000-8000-00000000ffff",
           "extensions": {"Bmc": {}}, "service": {}},
          {"id": "not-a-uuid"},
          {"id": "00000000-0000-4000-8000-000000000201"}
        ]}
        """;
        var ex = Assert.Throws<StateFileException>(() => StateFileImporter.Import(store, System.Text.Encoding.UTF8.GetBytes(json)));
        var errors = ex.Errors.Select(e => (e.NodeIndex, e.Url)).ToList();
        Assert.Contains((1, "/PhysState"), errors);
        Assert.Contains((1, "/Extensions/IPv4/Interfaces/eth0/Ip"), errors);
        Assert.Contains((1, "/Extensions/IPv4/Interfaces/eth0/Prefix"), errors);
        Assert.Contains((2, "/ParentId"), errors);
        Assert.Contains((2, "/Extensions/Bmc"), errors);
        Assert.Contains(ex.Errors, e => e.NodeIndex == 2 && e.Message.Contains("\"service\"", StringComparison.Ordinal));
        Assert.Contains((3, "/Id"), errors);
        Assert.Contains((4, "/Id"), errors);
        Assert.DoesNotContain(ex.Errors, e => e.NodeIndex == 0);
        Assert.Contains("POWER_ON", ex.Errors.Single(e => e.Url == "/PhysState").Message, StringComparison.Ordinal);
        Assert.Contains("00000000-0000-4000-8000-000000000202", ex.Message, StringComparison.Ordinal);

        Assert.Equal(1, store.Count);
        Assert.Same(existing, store.Get(StateView.Cfg, existing.Id));
    }

    [Theory]
    [InlineData("{\"nodes\": [", "not valid JSON at line 1")]
    [InlineData("[1]", "a node must be a JSON object")]
    [InlineData("{\"nodez\": []}", "\"nodes\"")]
    [InlineData("{\"format\": \"kraken-state/9\", \"nodes\": []}", "unsupported \"format\"")]
    public void File_level_problems_are_reported(string json, string message)
    {
        var content = StateFileReader.Read(json, _schema);
        Assert.False(content.IsValid);
        Assert.Contains(content.Errors, e => e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_utf8_in_a_string_is_an_error_not_a_throw()
    {
        // Found by the statefile fuzz target: a byte 0xEE inside a string value made JsonElement.GetString throw
        // InvalidOperationException out of the reader (JsonDocument.Parse had accepted the document).
        byte[] file = [.. "{\"nodes\": [{\"id\": \"123e4567-e89b-12d3-a456-426655440000\", \"nodename\": \"ro"u8, 0xEE, .. "t\"}]}"u8];
        var content = StateFileReader.Read(file, _schema);
        Assert.False(content.IsValid);
        Assert.Empty(content.Nodes);
        Assert.Equal("not valid UTF-8 at byte 74", Assert.Single(content.Errors).Message);
    }

    [Fact]
    public void Duplicate_macs_and_addresses_and_parent_cycles_are_errors()
    {
        var json = $$$$$$"""
        {"nodes": [
          {"id": "{{{{{{ParentA}}}}}}", "parentId": "{{{{{{ParentB}}}}}}", "extensions": {"IPv4": {"interfaces": {"kraken": {"mac": "52:54:00:18:00:01", "ip": "198.18.0.11"}}}}},
          {"id": "{{{{{{ParentB}}}}}}", "parentId": "{{{{{{ParentA}}}}}}", "extensions": {"IPv4": {"interfaces": {"kraken": {"mac": "52:54:00:18:00:01", "ip": "198.18.0.11"}}}}}
        ]}
        """;
        var content = StateFileReader.Read(json, _schema);
        Assert.Contains(content.Errors, e => e.NodeIndex == 1 && e.Url == "/Extensions/IPv4/Interfaces/kraken/Mac" && e.Message.Contains(ParentA, StringComparison.Ordinal));
        Assert.Contains(content.Errors, e => e.NodeIndex == 1 && e.Url == "/Extensions/IPv4/Interfaces/kraken/Ip");
        Assert.Contains(content.Errors, e => e.NodeIndex == 0 && e.Url == "/ParentId" && e.Message.Contains("loops", StringComparison.Ordinal));
    }

    [Fact]
    public void Parents_may_refer_to_nodes_already_in_the_store()
    {
        var store = new StateStore(_schema);
        var parent = store.Create(TestData.TypicalNode(_schema, 1));
        var json = $$$"""{"nodes": [{"id": "{{{ParentB}}}", "parentId": "{{{parent.Id}}}"}]}""";
        var result = StateFileImporter.Import(store, System.Text.Encoding.UTF8.GetBytes(json));
        Assert.Equal(1, result.Created);
        Assert.Throws<StateFileException>(() => StateFileImporter.Import(new StateStore(_schema), System.Text.Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Create_only_refuses_existing_nodes_and_upsert_replaces_them()
    {
        var store = new StateStore(_schema);
        var node = store.Create(TestData.TypicalNode(_schema, 1).With("/ParentId", ""));
        var changed = StateFileWriter.WriteToString([node.With("/Arch", "aarch64")]);
        var bytes = System.Text.Encoding.UTF8.GetBytes(changed);
        var ex = Assert.Throws<StateFileException>(() => StateFileImporter.Import(store, bytes, ImportMode.CreateOnly));
        Assert.Contains("exists already", ex.Message, StringComparison.Ordinal);
        Assert.Equal("amd64", store.GetRequired(StateView.Cfg, node.Id).Arch);

        var result = StateFileImporter.Import(store, bytes);
        Assert.Equal((0, 1, 0), (result.Created, result.Replaced, result.Unchanged));
        Assert.Equal("aarch64", store.GetRequired(StateView.Cfg, node.Id).Arch);
        Assert.Equal(1, StateFileImporter.Import(store, bytes).Unchanged);
    }

    [Fact]
    public void The_original_kraken_nodelist_loads_unchanged_with_its_extensions_mapped()
    {
        var content = StateFileReader.ReadFile(TestData.ExamplePath("legacy-vbox-nodelist.json"), _schema);
        Assert.True(content.IsValid, string.Join("\n", content.Errors));
        Assert.True(content.IsLegacy);
        var kr1 = content.Nodes.Single(n => n.Nodename == "kr1");
        Assert.Equal("SYNC", kr1.Get("/RunState").ToString());
        Assert.Equal(NodeId.DefaultRoot, kr1.ParentId);
        Assert.Equal("10.11.12.11", kr1.Get("type.googleapis.com/IPv4.IPv4OverEthernet/Ifaces/kraken/Ip/Ip").ToString());
        Assert.Equal("aa:bb:cc:00:11:01", kr1.Get("/Extensions/IPv4/Interfaces/kraken/Mac").ToString());
        Assert.Equal("eth0", kr1.Get("/Extensions/IPv4/Interfaces/kraken/Device").ToString());
        Assert.Equal(24UL, kr1.Get("/Extensions/IPv4/Interfaces/kraken/Prefix").UInt);
        Assert.Equal("vbox", kr1.Get("/Extensions/Power/Driver").ToString());
        Assert.Equal("kr1", kr1.Get("/Extensions/Power/System").ToString());
        Assert.Equal("vbm", kr1.Get("/Extensions/Power/Address").ToString());

        // The original's zero values meant "don't care": PXE NONE and unset physState stay unset.
        Assert.False(kr1.Get("type.googleapis.com/PXE.Client/State").IsSet);
        Assert.False(kr1.Get("/PhysState").IsSet);
        var root = content.Nodes.Single(n => n.Id == NodeId.DefaultRoot);
        Assert.Equal("RUN", root.Get("/Services/pxe/State").ToString());
        Assert.Contains(content.Warnings, w => w.Contains("module", StringComparison.Ordinal));
    }

    [Fact]
    public void Legacy_proto_names_numeric_enums_and_ipxe_spelling_are_accepted()
    {
        const string json = """
        {"nodes":[{"id":"123e4567-e89b-12d3-a456-426655440000","nodename":"noname","run_state":"INIT","phys_state":1,
          "extensions":[{"@type":"type.googleapis.com/PXE.Client","method":"iPXE","state":"WAIT"},
                        {"@type":"type.googleapis.com/HostThermal.Temp","state":"CPU_TEMP_NORMAL"}]}]}
        """;
        var content = StateFileReader.Read(json, _schema);
        Assert.True(content.IsValid, string.Join("\n", content.Errors));
        var node = Assert.Single(content.Nodes);
        Assert.Equal("INIT", node.Get("/RunState").ToString());
        Assert.Equal("POWER_OFF", node.Get("/PhysState").ToString());
        Assert.Equal("IPXE", node.Get("/Extensions/Pxe/Method").ToString());
        Assert.Equal("WAIT", node.Get("/Extensions/Pxe/State").ToString());
        Assert.Contains(content.Warnings, w => w.Contains("HostThermal.Temp", StringComparison.Ordinal));
    }

    [Fact]
    public void An_empty_object_is_an_empty_cluster()
    {
        var content = StateFileReader.Read("{}", _schema);
        Assert.True(content.IsValid);
        Assert.Empty(content.Nodes);
    }
}
