// A parent's own view of its direct children: what its modules read (power, PXE) wins over the child's report, and
// a child its power reading says is off is dead at once, without waiting for the dead interval.
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class ParentViewTests
{
    private static readonly StateUrl PhysUrl = StateSchema.Default.PhysState;
    private static readonly StateUrl PxeUrl = StateSchema.Default.Resolve("/Extensions/Pxe/State");

    /// <summary>The 3-tier tree, every adjacency Full; with <paramref name="power"/>, each parent reads its children's power and PXE state.</summary>
    private static SyncCluster Joined(bool power)
    {
        var c = new SyncCluster();
        c.StartThreeTier(configure: power ? o => o with { ParentView = ["/PhysState", "/Extensions/Pxe/State"] } : null);
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(2), "every adjacency Full");
        return c;
    }

    [Fact]
    public async Task The_parents_power_and_pxe_readings_win_where_it_has_them_and_the_childs_word_stands_elsewhere()
    {
        await using var c = Joined(power: true);
        var root = c[c.Root];
        var t1 = c.Tier1[0];

        // The root's power module read the tier-1 as on; the tier-1 says of itself it is off and names a PXE state.
        root.Store.Set(StateView.Dsc, t1, PhysUrl, SyncCluster.Enum(PhysState.PowerOn));
        c[t1].Store.Batch(s =>
        {
            s.Set(StateView.Dsc, t1, PhysUrl, SyncCluster.Enum(PhysState.PowerOff));
            s.Set(StateView.Dsc, t1, PxeUrl, NodeEditor.Parse(PxeUrl, "COMP"));
        });
        c.Run(TimeSpan.FromSeconds(2));

        Assert.Equal(SyncCluster.Enum(PhysState.PowerOn), root.Dsc(t1, PhysUrl)); // the root's reading
        Assert.Equal(NodeEditor.Parse(PxeUrl, "COMP"), root.Dsc(t1, PxeUrl)); // the root has none: the child's word
        Assert.Equal(SyncCluster.Enum(RunState.Sync), root.Dsc(t1, StateSchema.Default.RunState)); // the adjacency's
        Assert.Equal(SyncCluster.Enum(PhysState.PowerOff), c[t1].Dsc(t1, PhysUrl)); // the child keeps its own
    }

    [Fact]
    public async Task A_child_the_parents_power_reading_says_is_off_is_dead_at_once_and_its_subtree_lost()
    {
        await using var c = Joined(power: true);
        var root = c[c.Root];
        var t1 = c.Tier1[0];
        Assert.Empty(root.Engine.Lost);

        // Power lost behind the engine's back: the daemon goes silent and the root's next power poll reads it off.
        c.Crash(t1);
        await c.StopAsync(t1);
        root.Store.Set(StateView.Dsc, t1, PhysUrl, SyncCluster.Enum(PhysState.PowerOff));
        var took = c.RunUntil(
            () => root.Engine.Adjacencies.Any(a => a.Peer == t1 && a.State == AdjacencyState.Dead),
            TimeSpan.FromSeconds(1),
            "the adjacency down on the power reading");

        Assert.True(took < root.Engine.Options.HelloInterval, $"{took}");
        Assert.Equal(SyncCluster.Enum(RunState.Error), root.Dsc(t1, StateSchema.Default.RunState));
        Assert.Contains(t1, root.Engine.Lost);
    }

    [Fact]
    public async Task Without_power_in_the_parent_view_a_power_reading_does_not_end_an_adjacency()
    {
        await using var c = Joined(power: false);
        var root = c[c.Root];
        var t1 = c.Tier1[0];

        root.Store.Set(StateView.Dsc, t1, PhysUrl, SyncCluster.Enum(PhysState.PowerOff));
        c.Run(TimeSpan.FromSeconds(3));

        Assert.Contains(root.Engine.Adjacencies, a => a.Peer == t1 && a.State == AdjacencyState.Full);
        Assert.Empty(root.Engine.Lost);
    }

    [Fact]
    public async Task A_child_read_as_on_keeps_its_adjacency()
    {
        await using var c = Joined(power: true);
        var root = c[c.Root];
        var t1 = c.Tier1[0];

        root.Store.Set(StateView.Dsc, t1, PhysUrl, SyncCluster.Enum(PhysState.PowerOn));
        root.Store.Set(StateView.Dsc, t1, PhysUrl, SyncCluster.Enum(PhysState.PhysHang)); // a failed call proves nothing
        c.Run(TimeSpan.FromSeconds(3));

        Assert.Contains(root.Engine.Adjacencies, a => a.Peer == t1 && a.State == AdjacencyState.Full);
    }

    [Fact]
    public async Task A_child_that_reports_itself_off_is_not_a_power_reading_of_the_parents()
    {
        await using var c = Joined(power: true);
        var root = c[c.Root];
        var t1 = c.Tier1[0];

        // The root has no reading of its own: the child's word stands in its Dsc, but it ends nothing.
        c[t1].Store.Set(StateView.Dsc, t1, PhysUrl, SyncCluster.Enum(PhysState.PowerOff));
        c.Run(TimeSpan.FromSeconds(3));

        Assert.Equal(SyncCluster.Enum(PhysState.PowerOff), root.Dsc(t1, PhysUrl));
        Assert.Contains(root.Engine.Adjacencies, a => a.Peer == t1 && a.State == AdjacencyState.Full);
        Assert.Empty(root.Engine.Lost);
    }
}
