// The mutation graph: its vertices and edges for the original's vbox set and the realistic set, and its exports.
using System.Text.Json;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

public class MutationGraphTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    /// <summary>
    /// KRAKEN-REFERENCE.md section 10 item 12. The original's graph has 8 nodes and 11 edges; its root R = {} and
    /// U = {Platform=vbox} differ only in the Platform requirement. Here /Platform is a constraint carried by the
    /// edges, not a dimension of the state, so R and U are one vertex and UKtoOFF one edge: 7 vertices, 10 edges,
    /// otherwise the same states and the same mutations between them.
    /// </summary>
    [Fact]
    public void Vbox_set_yields_the_originals_graph_with_platform_as_a_constraint()
    {
        var graph = MutationGraph.Build(s_schema, ModuleSets.Vbox());

        var labels = graph.Vertices.Select(v => v.Label).ToHashSet();
        Assert.Equal(
            new HashSet<string>
            {
                "{}",
                "{/PhysState=POWER_OFF}",
                "{/PhysState=PHYS_HANG}",
                "{/PhysState=POWER_ON}",
                "{/Extensions/Pxe/State=WAIT, /PhysState=POWER_ON}",
                "{/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=INIT}",
                "{/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=SYNC}",
            },
            labels);

        var edges = graph.Edges.Select(e => $"{graph.Vertices[e.From].Label} -{e.Mutation.Id}-> {graph.Vertices[e.To].Label}").ToHashSet();
        Assert.Equal(
            new HashSet<string>
            {
                "{} -UKtoOFF-> {/PhysState=POWER_OFF}",
                "{/PhysState=POWER_OFF} -OFFtoON-> {/PhysState=POWER_ON}",
                "{/PhysState=PHYS_HANG} -HANGtoOFF-> {/PhysState=POWER_OFF}",
                "{/PhysState=POWER_ON} -ONtoOFF-> {/PhysState=POWER_OFF}",
                "{/Extensions/Pxe/State=WAIT, /PhysState=POWER_ON} -ONtoOFF-> {/PhysState=POWER_OFF}",
                "{/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=INIT} -ONtoOFF-> {/PhysState=POWER_OFF}",
                "{/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=SYNC} -ONtoOFF-> {/PhysState=POWER_OFF}",
                "{/PhysState=POWER_ON} -NONEtoWAIT-> {/Extensions/Pxe/State=WAIT, /PhysState=POWER_ON}",
                "{/Extensions/Pxe/State=WAIT, /PhysState=POWER_ON} -WAITtoINIT-> {/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=INIT}",
                "{/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=INIT} -INITtoSYNC-> {/Extensions/Pxe/State=INIT, /PhysState=POWER_ON, /RunState=SYNC}",
            },
            edges);
        Assert.Equal(10, graph.Edges.Length);

        // The power edges carry the Platform constraint; the others carry none.
        Assert.All(graph.Edges.Where(e => e.Mutation.Module == "vboxmanage"), e => Assert.Contains(e.Mutation.Requires, r => r.Key == s_schema.Platform));
    }

    [Fact]
    public void Realistic_set_graph_has_the_boot_chain_and_the_recovery_edges()
    {
        var graph = MutationGraph.Build(s_schema, ModuleSets.Realistic());

        Assert.Contains(graph.Vertices, v => v.Label == "{/Extensions/Pxe/State=COMP, /PhysState=POWER_ON, /RunState=SYNC}");
        Assert.Contains(graph.Edges, e => e.Mutation.Id == "HANGtoOFF" && graph.Vertices[e.From].Label == "{/PhysState=PHYS_HANG}");
        Assert.Single(graph.Edges, e => e.Mutation.Id == "INITtoSYNC");
        // Powering off makes the PXE state and RunState unknown, from every powered-on state.
        Assert.All(graph.Edges.Where(e => e.Mutation.Id == "ONtoOFF"), e => Assert.Equal("{/PhysState=POWER_OFF}", graph.Vertices[e.To].Label));
    }

    [Fact]
    public void Json_export_describes_every_vertex_edge_and_mutation()
    {
        var graph = MutationGraph.Build(s_schema, ModuleSets.Vbox());

        using var doc = JsonDocument.Parse(graph.ToJson());
        var root = doc.RootElement;
        Assert.Equal(graph.Vertices.Length, root.GetProperty("vertices").GetArrayLength());
        Assert.Equal(graph.Edges.Length, root.GetProperty("edges").GetArrayLength());
        var wait = root.GetProperty("mutations").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "WAITtoINIT");
        Assert.Equal("pxe", wait.GetProperty("module").GetString());
        Assert.Equal("Child", wait.GetProperty("context").GetString());
        Assert.Equal(90, wait.GetProperty("timeoutSeconds").GetDouble());
        Assert.Equal(2, wait.GetProperty("mutates").GetArrayLength());
        Assert.Equal("PHYS_HANG", wait.GetProperty("failTo").GetProperty("value").GetString());
        foreach (var e in root.GetProperty("edges").EnumerateArray())
        {
            var from = e.GetProperty("from").GetInt32();
            var to = e.GetProperty("to").GetInt32();
            var id = e.GetProperty("mutation").GetString();
            Assert.Contains(graph.Edges, g => g.From == from && g.To == to && g.Mutation.Id == id);
        }

        var on = root.GetProperty("vertices").EnumerateArray().Single(v => v.GetProperty("label").GetString() == "{/PhysState=POWER_ON}");
        Assert.Equal("POWER_ON", on.GetProperty("values").GetProperty("/PhysState").GetString());
    }

    [Fact]
    public void Dot_export_has_one_statement_per_vertex_and_edge()
    {
        var graph = MutationGraph.Build(s_schema, ModuleSets.Vbox());

        var dot = graph.ToDot();
        var lines = dot.Split('\n');
        Assert.StartsWith("digraph mutations {", dot, StringComparison.Ordinal);
        Assert.Equal(graph.Vertices.Length, lines.Count(l => l.TrimStart().StartsWith('v') && !l.Contains("->", StringComparison.Ordinal)));
        Assert.Equal(graph.Edges.Length, lines.Count(l => l.Contains("->", StringComparison.Ordinal)));
        var hang = graph.Vertices.Single(v => v.Label == "{/PhysState=PHYS_HANG}").Id;
        var off = graph.Vertices.Single(v => v.Label == "{/PhysState=POWER_OFF}").Id;
        Assert.Contains($"v{hang} -> v{off} [label=\"HANGtoOFF\\nvboxmanage, Child\\n/Platform=vbox\"];", dot, StringComparison.Ordinal);
    }

    [Fact]
    public void The_graph_does_not_depend_on_declaration_order()
    {
        var reference = MutationGraph.Build(s_schema, ModuleSets.Vbox()).ToJson();
        var random = new Random(7);
        for (var i = 0; i < 20; i++)
        {
            var shuffled = ModuleSets.Vbox()
                .Select(m => m with { Mutations = [.. m.Mutations.OrderBy(_ => random.Next())] })
                .OrderBy(_ => random.Next())
                .ToArray();
            var json = MutationGraph.Build(s_schema, shuffled).ToJson();

            // Module order shows in the JSON only through the mutations' ids and modules, which are sorted.
            Assert.Equal(reference, json);
        }
    }
}
