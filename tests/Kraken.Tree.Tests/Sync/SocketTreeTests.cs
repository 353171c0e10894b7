// The 3-tier tree over real UDP and TCP sockets on loopback, each engine on its own serial executor.
using System.Net;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

[Trait("Category", "Network")]
public sealed class SocketTreeTests
{
    private static readonly StateSchema s_schema = StateSchema.Default;

    private sealed record Node(NodeId Id, StateStore Store, SocketTransport Transport, SerialExecutor Executor, SyncEngine Engine);

    [Fact]
    public async Task The_three_tier_tree_syncs_over_loopback_sockets()
    {
        var cfg = SyncCluster.ThreeTierCfg(out var root, out var tier1, out var leaves);
        var nodes = new Dictionary<NodeId, Node>();
        var failures = new List<Exception>();
        try
        {
            Node Start(NodeId id, StateStore store, IReadOnlyList<EndPoint> parents)
            {
                var transport = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0));
                var executor = new SerialExecutor(ex =>
                {
                    lock (failures)
                    {
                        failures.Add(ex);
                    }
                });
                var options = SyncOptions.ForProfile(SyncProfile.Kraken, id, SyncCluster.Secret) with
                {
                    Parents = parents,
                    HelloInterval = TimeSpan.FromMilliseconds(200),
                    // Real clock on a shared machine: generous dead and join timeouts so a loaded CI box cannot
                    // turn a slow scheduler into a failed join or a false death.
                    DeadInterval = TimeSpan.FromSeconds(10),
                    JoinBackoff = TimeSpan.FromMilliseconds(100),
                    JoinBackoffMaximum = TimeSpan.FromSeconds(1),
                    JoinTimeout = TimeSpan.FromSeconds(10),
                };
                var engine = new SyncEngine(options, store, transport, TimeProvider.System, executor);
                var node = new Node(id, store, transport, executor, engine);
                nodes[id] = node;
                engine.Start();
                return node;
            }

            var rootStore = new StateStore();
            foreach (var r in cfg)
            {
                rootStore.Create(r);
            }

            var rootNode = Start(root, rootStore, []);
            foreach (var t in tier1)
            {
                Start(t, new StateStore(), [rootNode.Transport.LocalEndPoint]);
            }

            for (var i = 0; i < 9; i++)
            {
                Start(leaves[i], new StateStore(), [nodes[tier1[i / 3]].Transport.LocalEndPoint, nodes[tier1[((i / 3) + 1) % 3]].Transport.LocalEndPoint]);
            }

            await Until(() => nodes.Values.All(n => n.Id == root || n.Engine.Parent?.State == AdjacencyState.Full), "every node joined");
            await Until(() => leaves.All(l => rootStore.Get(StateView.Dsc, l)?.RunState == RunState.Sync), "the root sees every leaf SYNC");

            // Down: a root Cfg change reaches a leaf through its tier-1 parent.
            var leaf = leaves[5];
            rootStore.Set(StateView.Cfg, leaf, s_schema.PhysState, StateValue.FromEnum(PhysState.PowerOff));
            await Until(() => nodes[leaf].Store.Get(StateView.Cfg, leaf)?.PhysState == PhysState.PowerOff, "the leaf gets the Cfg change");

            // Up: a leaf Dsc change reaches the root.
            nodes[leaf].Store.Set(StateView.Dsc, leaf, s_schema.PhysState, StateValue.FromEnum(PhysState.PhysHang));
            await Until(() => rootStore.Get(StateView.Dsc, leaf)?.PhysState == PhysState.PhysHang, "the root gets the Dsc change");

            // Leaves that asked before their parent had joined were refused (unknown sender); nothing else was dropped.
            Assert.All(nodes.Values, n => Assert.Equal(n.Engine.Counters.Drops(Kraken.Net.Sync.DropReason.UnknownSender), n.Engine.Counters.TotalDrops));
            lock (failures)
            {
                Assert.Empty(failures);
            }
        }
        finally
        {
            // The transport goes before the executor: the other nodes still send hellos, and a datagram received
            // after the executor stopped would make the receive loop fail on posting it.
            foreach (var n in nodes.Values)
            {
                await n.Engine.DisposeAsync();
                await n.Transport.DisposeAsync();
                await n.Executor.DisposeAsync();
            }
        }
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }
}
