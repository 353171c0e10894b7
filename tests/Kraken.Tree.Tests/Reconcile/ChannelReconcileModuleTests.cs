// The channel-based module base: requests arrive on a reader for an asynchronous processing loop.
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

public class ChannelReconcileModuleTests
{
    private sealed class PowerModule : ChannelReconcileModule
    {
        public override ModuleDeclaration Declaration { get; } = ModuleSets.Realistic()[0];

        public void Confirm(MutationRequest r) => Host.Discover(r.Node, r.Mutation.Mutates[0].Url, r.Mutation.Mutates[0].To);
    }

    [Fact]
    public async Task Requests_are_read_from_the_channel_and_confirmed_through_the_host()
    {
        var work = new WorkQueue();
        var time = new VirtualTimeProvider(work);
        var store = new StateStore(StateSchema.Default);
        var module = new PowerModule();
        using var engine = new ReconcileEngine(NodeId.FromName("p"), store, [module], new ManualExecutor(work), time);
        engine.Start();
        var id = NodeId.FromName("n");
        store.Create(NodeRecord.Empty(id).With("/PhysState", "POWER_ON").With("/ParentId", NodeId.FromName("p").ToString()), NodeRecord.Empty(id).With("/PhysState", "POWER_OFF"));
        time.RunUntilIdle();

        Assert.True(module.Requests.TryRead(out var request));
        Assert.Equal("OFFtoON", request.MutationId);
        Assert.False(module.Requests.TryRead(out _));

        await Task.Run(() => module.Confirm(request)); // from another thread, as a real module would
        time.RunUntilIdle();
        Assert.Equal(ReconcileStatus.Complete, engine.GetState(id)!.Status);
    }

    [Fact]
    public void Discovering_an_undeclared_value_changes_nothing()
    {
        var work = new WorkQueue();
        var store = new StateStore(StateSchema.Default);
        var module = new PowerModule();
        using var engine = new ReconcileEngine(NodeId.FromName("p"), store, [module], new ManualExecutor(work), new VirtualTimeProvider(work));
        var id = NodeId.FromName("n");
        store.Create(NodeRecord.Empty(id));

        var ex = Assert.Throws<ArgumentException>(() => engine.Discover("power", id, "/RunState", "SYNC"));
        Assert.Contains("'power' may not report /RunState = SYNC", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => engine.Discover("power", id, "/PhysState", "POWER_CYCLE"));
        Assert.Contains("PHYS_HANG, POWER_OFF, POWER_ON", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => engine.Discover("ipmi", id, "/PhysState", "POWER_ON"));
        Assert.Equal(1UL, store.GetRequired(StateView.Dsc, id).Version);

        engine.Discover("power", id, "/PhysState", "POWER_ON");
        Assert.Equal("POWER_ON", store.GetRequired(StateView.Dsc, id).Get("/PhysState").ToString());
    }
}
