// A record that breaks the value rules, sent by a parent that did not check it: left out, counted, never stored.
using Google.Protobuf;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class ValueRuleSyncTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    /// <summary>The record as a parent from before the rules would hold it: built from its wire form, unchecked.</summary>
    private static NodeRecord Unchecked(NodeRecord record, Action<Node> change)
    {
        var node = NodeRecordCodec.ToProto(record);
        change(node);
        return NodeRecordCodec.FromProto(node, s_schema);
    }

    [Fact]
    public async Task A_child_drops_and_counts_records_that_break_the_rules_and_keeps_its_copy()
    {
        await using var c = new SyncCluster();
        var cfg = SyncCluster.ThreeTierCfg(out var root, out var tier1, out var leaves);
        var rootStore = new StateStore { EnforceValueRules = false };
        foreach (var r in cfg)
        {
            rootStore.Create(r);
        }

        c.Add(root, rootStore, []);
        var t0 = c.Add(tier1[0], new StateStore(), [SyncCluster.EndPointOf(root)]);
        c.RunUntil(() => t0.ParentAdjacency?.State == AdjacencyState.Full, TimeSpan.FromSeconds(10), "t0 joined");
        Assert.Equal("l0", t0.Store.GetRequired(StateView.Cfg, leaves[0]).Nodename);
        Assert.Equal(0, t0.Engine.Counters.RecordsRefused);

        // An over-long node name for l0, a boot-script injection in l1's host name, a record of 70 KB for l2.
        var l0 = rootStore.GetRequired(StateView.Cfg, leaves[0]);
        rootStore.Replace(StateView.Cfg, Unchecked(l0, n => n.Nodename = new string('n', 300)));
        var l1 = rootStore.GetRequired(StateView.Cfg, leaves[1]);
        rootStore.Replace(StateView.Cfg, Unchecked(l1, n => n.Extensions.Add(new Kraken.Tree.State.Proto.Extension { Name = "IPv4", Value = new IPv4 { Hostname = "l1\nchain http://198.18.0.66/x" }.ToByteString() })));
        var l2 = rootStore.GetRequired(StateView.Cfg, leaves[2]);
        var many = new IPv4();
        for (var i = 0; i < 1000; i++)
        {
            many.Interfaces.Add($"if{i:D4}-{new string('k', 60)}", new IPv4.Types.Interface { Ip = 0xC6120000u + (uint)i });
        }

        rootStore.Replace(StateView.Cfg, Unchecked(l2, n => n.Extensions.Add(new Kraken.Tree.State.Proto.Extension { Name = "IPv4", Value = many.ToByteString() })));
        Assert.True(rootStore.GetRequired(StateView.Cfg, leaves[2]).EncodedSize() > ValueRules.MaxRecordBytes);
        c.RunUntil(() => t0.Engine.Counters.RecordsRefused >= 3, TimeSpan.FromSeconds(30), "the three records refused");

        Assert.Equal("l0", t0.Store.GetRequired(StateView.Cfg, leaves[0]).Nodename);
        Assert.Null(t0.Store.GetRequired(StateView.Cfg, leaves[1]).GetExtension<IPv4>(StandardExtensions.IPv4));
        Assert.Null(t0.Store.GetRequired(StateView.Cfg, leaves[2]).GetExtension<IPv4>(StandardExtensions.IPv4));

        // The adjacency is fine and a good record still flows.
        rootStore.Set(StateView.Cfg, leaves[0], "/Nodename", "l0-renamed");
        c.RunUntil(() => t0.Store.GetRequired(StateView.Cfg, leaves[0]).Nodename == "l0-renamed", TimeSpan.FromSeconds(10), "a good record flows");
        Assert.Equal(AdjacencyState.Full, t0.ParentAdjacency?.State);
    }
}
