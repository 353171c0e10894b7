using System.Threading.Channels;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.State;

public class StateStoreTests
{
    private readonly StateSchema _schema = StateSchema.CreateDefault();

    private sealed class Recorder : IStateObserver
    {
        public List<StateChange> Changes { get; } = [];

        public List<int> BatchSizes { get; } = [];

        public void OnChanges(ReadOnlySpan<StateChange> changes)
        {
            Changes.AddRange(changes.ToArray());
            BatchSizes.Add(changes.Length);
        }
    }

    private (StateStore Store, Recorder Recorder) NewStore()
    {
        var store = new StateStore(_schema);
        var recorder = new Recorder();
        store.Subscribe(recorder);
        return (store, recorder);
    }

    [Fact]
    public void Create_stores_cfg_as_given_and_an_empty_dsc_both_at_version_1()
    {
        var (store, recorder) = NewStore();
        var node = TestData.TypicalNode(_schema, 1);
        store.Create(node);
        var cfg = store.GetRequired(StateView.Cfg, node.Id);
        var dsc = store.GetRequired(StateView.Dsc, node.Id);
        Assert.True(cfg.ValuesEqual(node));
        Assert.Empty(dsc.Values());
        Assert.Equal(1UL, cfg.Version);
        Assert.Equal(1UL, dsc.Version);
        Assert.Equal([(ChangeKind.Created, StateView.Cfg), (ChangeKind.Created, StateView.Dsc)], recorder.Changes.Select(c => (c.Kind, c.View)));
    }

    [Fact]
    public void Creating_an_existing_id_fails_and_changes_nothing()
    {
        var (store, recorder) = NewStore();
        var node = TestData.TypicalNode(_schema, 1);
        store.Create(node);
        var before = recorder.Changes.Count;
        var ex = Assert.Throws<NodeExistsException>(() => store.Create(node.With("/Arch", "aarch64")));
        Assert.Equal(node.Id, ex.Node);
        Assert.Equal("amd64", store.GetRequired(StateView.Cfg, node.Id).Arch);
        Assert.Equal(before, recorder.Changes.Count);
    }

    [Fact]
    public void Setting_the_current_value_emits_nothing_and_keeps_the_version()
    {
        var (store, recorder) = NewStore();
        var node = store.Create(TestData.TypicalNode(_schema, 1));
        recorder.Changes.Clear();
        var after = store.Set(StateView.Cfg, node.Id, "/PhysState", "POWER_ON");
        Assert.Same(store.GetRequired(StateView.Cfg, node.Id), after);
        Assert.Equal(1UL, after.Version);
        Assert.Empty(recorder.Changes);
    }

    [Fact]
    public void A_changed_value_emits_exactly_one_change_and_bumps_the_version()
    {
        var (store, recorder) = NewStore();
        var node = store.Create(TestData.TypicalNode(_schema, 1));
        recorder.Changes.Clear();
        store.Set(StateView.Dsc, node.Id, "/PhysState", "POWER_OFF");
        store.Set(StateView.Dsc, node.Id, "/PhysState", "POWER_ON");
        var c = Assert.Single(recorder.Changes, ch => ch.Version == 2);
        Assert.Equal((ChangeKind.Updated, StateView.Dsc, node.Id, "/PhysState", "", "POWER_OFF"), (c.Kind, c.View, c.Node, c.Url!.Path, c.Old.ToString(), c.New.ToString()));
        var d = Assert.Single(recorder.Changes, ch => ch.Version == 3);
        Assert.Equal(("POWER_OFF", "POWER_ON"), (d.Old.ToString(), d.New.ToString()));
        Assert.Equal(3UL, store.GetRequired(StateView.Dsc, node.Id).Version);
        Assert.Equal(1UL, store.GetRequired(StateView.Cfg, node.Id).Version);
    }

    [Fact]
    public void The_change_stream_is_in_commit_order_across_nodes_and_views()
    {
        var (store, recorder) = NewStore();
        var a = store.Create(TestData.TypicalNode(_schema, 1)).Id;
        var b = store.Create(TestData.TypicalNode(_schema, 2)).Id;
        recorder.Changes.Clear();
        var writes = new (StateView View, NodeId Node, string Url, string Value)[]
        {
            (StateView.Dsc, b, "/PhysState", "POWER_OFF"),
            (StateView.Cfg, a, "/RunState", "INIT"),
            (StateView.Dsc, a, "/Extensions/Pxe/State", "WAIT"),
            (StateView.Dsc, b, "/PhysState", "POWER_ON"),
            (StateView.Cfg, b, "/Arch", "aarch64"),
        };
        foreach (var w in writes)
        {
            store.Set(w.View, w.Node, w.Url, w.Value);
        }

        Assert.Equal(writes.Select(w => (w.View, w.Node, w.Url, w.Value)), recorder.Changes.Select(c => (c.View, c.Node, c.Url!.Path, c.New.ToString())));
        var seq = recorder.Changes.Select(c => c.Sequence).ToList();
        Assert.Equal(seq.Order(), seq);
        Assert.Equal(seq.Count, seq.Distinct().Count());
        Assert.Equal(store.Sequence, seq[^1]);
    }

    [Fact]
    public void A_multi_value_update_is_atomic_one_version_and_all_changes_in_one_batch()
    {
        var (store, recorder) = NewStore();
        var id = store.Create(TestData.TypicalNode(_schema, 1)).Id;
        recorder.Changes.Clear();
        recorder.BatchSizes.Clear();
        var updated = store.Update(StateView.Dsc, id,
        [
            new(_schema.PhysState, StateValue.FromEnum(EnumTypes.PhysState, 2)),
            new(_schema.Resolve("/Extensions/Pxe/State"), StateValue.FromEnum(Proto.Pxe.Descriptor.EnumTypes[1], 2)),
            new(_schema.RunState, StateValue.FromEnum(EnumTypes.RunState, 1)),
        ]);
        Assert.Equal(2UL, updated.Version);
        Assert.Equal([3], recorder.BatchSizes);
        Assert.All(recorder.Changes, c => Assert.Equal(2UL, c.Version));
    }

    [Fact]
    public void A_multi_value_update_with_one_bad_value_changes_nothing()
    {
        var (store, recorder) = NewStore();
        var id = store.Create(TestData.TypicalNode(_schema, 1)).Id;
        recorder.Changes.Clear();
        var before = store.GetRequired(StateView.Cfg, id);
        Assert.Throws<InvalidStateValueException>(() => store.Update(StateView.Cfg, id,
        [
            new(_schema.Arch, StateValue.FromString("aarch64")),
            new(_schema.Resolve("/Extensions/IPv4/Interfaces/kraken/Prefix"), StateValue.FromUInt(40)),
        ]));
        Assert.Same(before, store.GetRequired(StateView.Cfg, id));
        Assert.Empty(recorder.Changes);
    }

    [Fact]
    public void An_update_against_a_stale_version_is_refused()
    {
        var (store, _) = NewStore();
        var id = store.Create(TestData.TypicalNode(_schema, 1)).Id;
        store.Set(StateView.Cfg, id, _schema.Arch, StateValue.FromString("aarch64"), expectedVersion: 1);
        var ex = Assert.Throws<VersionConflictException>(() => store.Set(StateView.Cfg, id, _schema.Arch, StateValue.FromString("ppc64le"), expectedVersion: 1));
        Assert.Equal((1UL, 2UL), (ex.Expected, ex.Actual));
        Assert.Equal("aarch64", store.GetRequired(StateView.Cfg, id).Arch);
    }

    [Fact]
    public void Replacing_a_record_emits_one_change_per_differing_leaf()
    {
        var (store, recorder) = NewStore();
        var original = store.Create(TestData.TypicalNode(_schema, 1));
        recorder.Changes.Clear();
        var next = original.Edit()
            .Set("/Arch", "aarch64")
            .Set("/Extensions/IPv4/Interfaces/kraken/Ip", "198.18.9.9")
            .Set("/Extensions/IPv4/Interfaces/bmc/Ip", "198.19.9.9")
            .Set(_schema.Resolve("/Extensions/Power"), StateValue.None)
            .Build();
        store.Replace(StateView.Cfg, next);
        var changes = recorder.Changes.Select(c => (c.Url!.Path, c.Old.ToString(), c.New.ToString())).OrderBy(c => c.Path, StringComparer.Ordinal).ToList();
        Assert.Equal(
            [
                ("/Arch", "amd64", "aarch64"),
                ("/Extensions/IPv4/Interfaces/bmc/Ip", "", "198.19.9.9"),
                ("/Extensions/IPv4/Interfaces/kraken/Ip", original.Get("/Extensions/IPv4/Interfaces/kraken/Ip").ToString(), "198.18.9.9"),
                ("/Extensions/Power/Address", original.Get("/Extensions/Power/Address").ToString(), ""),
                ("/Extensions/Power/Driver", "ipmi", ""),
            ],
            changes);
        Assert.Equal(2UL, store.GetRequired(StateView.Cfg, original.Id).Version);
    }

    [Fact]
    public void A_versioned_replace_keeps_the_given_version_and_ignores_older_ones()
    {
        var (store, _) = NewStore();
        var node = store.Create(TestData.TypicalNode(_schema, 1));
        var v9 = store.Replace(StateView.Cfg, node.With("/Arch", "aarch64"), version: 9);
        Assert.Equal(9UL, v9.Version);
        var stale = store.Replace(StateView.Cfg, node.With("/Arch", "ppc64le"), version: 5);
        Assert.Same(v9, stale);
        Assert.Equal("aarch64", store.GetRequired(StateView.Cfg, node.Id).Arch);
    }

    [Fact]
    public void Snapshots_are_immutable_while_the_store_moves_on()
    {
        var (store, _) = NewStore();
        var id = store.Create(TestData.TypicalNode(_schema, 1)).Id;
        var snapshot = store.Snapshot(StateView.Cfg);
        var held = store.GetRequired(StateView.Cfg, id);
        store.Set(StateView.Cfg, id, "/Extensions/IPv4/Interfaces/kraken/Ip", "198.18.200.1");
        Assert.NotEqual("198.18.200.1", held.Get("/Extensions/IPv4/Interfaces/kraken/Ip").ToString());
        Assert.NotEqual("198.18.200.1", snapshot[0].Get("/Extensions/IPv4/Interfaces/kraken/Ip").ToString());
        Assert.Equal("198.18.200.1", store.GetRequired(StateView.Cfg, id).Get("/Extensions/IPv4/Interfaces/kraken/Ip").ToString());
    }

    [Fact]
    public void Delete_removes_both_views_and_emits_deletions()
    {
        var (store, recorder) = NewStore();
        var id = store.Create(TestData.TypicalNode(_schema, 1)).Id;
        recorder.Changes.Clear();
        Assert.True(store.Delete(id));
        Assert.False(store.Delete(id));
        Assert.Null(store.Get(StateView.Cfg, id));
        Assert.Null(store.Get(StateView.Dsc, id));
        Assert.Equal([ChangeKind.Deleted, ChangeKind.Deleted], recorder.Changes.Select(c => c.Kind));
        Assert.Throws<NodeNotFoundException>(() => store.Set(StateView.Cfg, id, "/Arch", "amd64"));
    }

    [Fact]
    public void A_batch_is_delivered_as_one_call_after_it_completes()
    {
        var (store, recorder) = NewStore();
        store.Batch(s =>
        {
            for (var i = 0; i < 10; i++)
            {
                s.Create(TestData.TypicalNode(_schema, i));
            }

            Assert.Empty(recorder.Changes);
        });
        Assert.Equal([20], recorder.BatchSizes);
    }

    [Fact]
    public async Task Watch_streams_filtered_changes_and_cuts_off_a_reader_that_falls_behind()
    {
        var (store, _) = NewStore();
        var id = store.Create(TestData.TypicalNode(_schema, 1)).Id;
        var reader = store.Watch(c => c.View == StateView.Dsc, capacity: 4);
        store.Set(StateView.Cfg, id, "/Arch", "aarch64");
        store.Set(StateView.Dsc, id, "/PhysState", "POWER_OFF");
        var change = await reader.ReadAsync();
        Assert.Equal("/PhysState", change.Url!.Path);

        for (var i = 0; i < 6; i++)
        {
            store.Set(StateView.Dsc, id, "/Nodename", $"name{i}");
        }

        var drained = 0;
        var ex = await Assert.ThrowsAsync<ChangeStreamOverflowException>(async () =>
        {
            await foreach (var _ in reader.ReadAllAsync())
            {
                drained++;
            }
        });
        Assert.Equal(4, drained);
        Assert.Contains("re-read", ex.Message, StringComparison.Ordinal);
        Assert.True(reader.Completion.IsCompleted);
        Assert.IsType<ChannelClosedException>(await Record.ExceptionAsync(() => reader.ReadAsync().AsTask()), exactMatch: false);
    }
}
