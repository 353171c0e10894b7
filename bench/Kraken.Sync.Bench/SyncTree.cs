// A two-tier tree of sync engines on the in-memory network and a virtual clock, for the scenario and benchmarks.
using System.Text;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Sync.Bench;

internal sealed class SyncTree
{
    public static readonly byte[] Secret = Encoding.ASCII.GetBytes("benchmark-cluster-join-secret-01");

    public SyncTree(SyncProfile profile, int tier1, int leavesPerTier1)
    {
        Time = new VirtualTimeProvider();
        var executor = new ManualExecutor(Time.Work);
        var network = new InMemoryNetwork(Time, executor, seed: 1) { Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(1) } };
        var root = NodeId.FromName("root");
        var rootStore = new StateStore();
        rootStore.Create(NodeRecord.Empty(root).With("/Nodename", "root"));
        var mids = Enumerable.Range(0, tier1).Select(i => NodeId.FromName($"t{i}")).ToArray();
        var index = 1;
        for (var t = 0; t < tier1; t++)
        {
            rootStore.Create(TypicalNode.Cfg(mids[t], index++, root, null));
        }

        var leaves = new List<(NodeId Id, int Index, int Parent)>();
        for (var t = 0; t < tier1; t++)
        {
            for (var l = 0; l < leavesPerTier1; l++)
            {
                var id = NodeId.FromName($"l{t}.{l}");
                rootStore.Create(TypicalNode.Cfg(id, index, mids[t], tier1 > 1 ? mids[(t + 1) % tier1] : null));
                leaves.Add((id, index++, t));
            }
        }

        InMemoryEndPoint Ep(NodeId id) => new(new UInt128(id.High, id.Low));
        SyncEngine Start(NodeId id, StateStore store, IReadOnlyList<System.Net.EndPoint> parents)
        {
            var options = SyncOptions.ForProfile(profile, id, Secret) with { Parents = parents };
            var engine = new SyncEngine(options, store, network.CreateTransport(Ep(id)), Time, executor);
            Engines.Add(engine);
            engine.Start();
            return engine;
        }

        Start(root, rootStore, []);
        for (var t = 0; t < tier1; t++)
        {
            var store = new StateStore();
            store.Create(TypicalNode.Cfg(mids[t], t + 1, root, null), TypicalNode.Dsc(mids[t], t + 1));
            Start(mids[t], store, [Ep(root)]);
        }

        Time.RunUntil(() => Engines.Skip(1).All(e => e.Parent?.State == AdjacencyState.Full), TimeSpan.FromMinutes(5));
        foreach (var (id, i, parent) in leaves)
        {
            var store = new StateStore();
            store.Create(NodeRecord.Empty(id), TypicalNode.Dsc(id, i));
            Start(id, store, [Ep(mids[parent])]);
        }

        if (!Time.RunUntil(() => Engines.Skip(1).All(e => e.Parent?.State == AdjacencyState.Full), TimeSpan.FromMinutes(5)))
        {
            throw new InvalidOperationException("The tree did not converge.");
        }

        Options = Engines[0].Options;
    }

    public VirtualTimeProvider Time { get; }

    public List<SyncEngine> Engines { get; } = [];

    public SyncOptions Options { get; }

    /// <summary>Nodes below the root: each has one adjacency to its parent, the unit of the per-node figure.</summary>
    public int NonRootNodes => Engines.Count - 1;

    public long TotalBytes => Engines.Sum(e => e.Counters.TotalSentBytes);

    public long TotalMessages => Engines.Sum(e => e.Counters.TotalSent);

}
