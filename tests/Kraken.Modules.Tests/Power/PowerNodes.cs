// Creates child nodes with power settings, for the tests that run the power module on an engine.
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Power;

internal static class PowerNodes
{
    /// <summary>
    /// A node named <paramref name="name"/> whose parent is <paramref name="parent"/>, with the given Power
    /// extension values (URL suffix = value, as in <c>("Driver", "ipmi")</c>) and optional PhysState in Cfg and Dsc.
    /// </summary>
    public static NodeId Create(StateStore store, NodeId parent, string name, (string Field, string Value)[] power, string? physCfg = null, string? physDsc = null)
    {
        var id = NodeId.FromName(name);
        var cfg = NodeRecord.Empty(id, store.Schema).Edit();
        cfg.Set(store.Schema.ParentId, StateValue.FromNodeId(parent));
        cfg.Set("/Nodename", name);
        foreach (var (field, value) in power)
        {
            cfg.Set("/Extensions/Power/" + field, value);
        }

        if (physCfg is not null)
        {
            cfg.Set("/PhysState", physCfg);
        }

        var dsc = NodeRecord.Empty(id, store.Schema).Edit();
        if (physDsc is not null)
        {
            dsc.Set("/PhysState", physDsc);
        }

        store.Create(cfg.Build(), dsc.Build());
        return id;
    }

    /// <summary>The node's Dsc PhysState as text ("" when unset).</summary>
    public static string Phys(StateStore store, NodeId id) => store.GetRequired(StateView.Dsc, id).Get(store.Schema.PhysState).ToString();

    /// <summary>Polls <paramref name="condition"/> on real time (for tests on a real clock) until it holds or <paramref name="limit"/> passes.</summary>
    public static async Task<bool> Eventually(Func<bool> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
