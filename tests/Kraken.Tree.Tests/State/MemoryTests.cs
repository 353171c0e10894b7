using Kraken.Tree.State;

namespace Kraken.Tree.Tests.State;

// Guards the memory budget (2 KiB per node per view for a typical node); bench/ reports the exact figure.
// GC.GetTotalMemory counts the whole process, so nothing else may run beside it.
[Collection(nameof(MemoryTests))]
public class MemoryTests
{
    [Fact]
    public void A_typical_node_costs_under_2_KiB_per_view()
    {
        const int n = 20_000;
        var schema = StateSchema.CreateDefault();
        var parents = new[] { NodeId.NewRandom(), NodeId.NewRandom() };
        var store = new StateStore(schema);
        for (var i = 0; i < 4; i++)
        {
            store.Create(TestData.TypicalNode(schema, 1_000_000 + i)); // warm up interned URLs and strings
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        store.Batch(s =>
        {
            for (var i = 0; i < n; i++)
            {
                var cfg = TestData.TypicalNode(schema, i, parents[i % 2]);
                var dsc = NodeRecord.Empty(cfg.Id, schema).Edit()
                    .Set("/PhysState", "POWER_ON").Set("/RunState", "SYNC").Set("/Extensions/Pxe/State", "COMP")
                    .Set("/Extensions/IPv4/Interfaces/kraken/Ip", cfg.Get("/Extensions/IPv4/Interfaces/kraken/Ip").ToString())
                    .Build();
                s.Create(cfg, dsc);
            }
        });
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var perNodePerView = (after - before) / (double)n / 2;
        Assert.True(perNodePerView < 2048, $"{perNodePerView:F0} bytes per node per view");
        GC.KeepAlive(store);
    }
}

[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryCollection;
