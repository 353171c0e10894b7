// First joins with a per-node bootstrap credential instead of the cluster secret: the secrets sealed in the accept,
// single use, expiry, binding to the host, and what a node booted this way can do afterwards.
using System.Text;
using Kraken.Net.Sync;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class BootstrapTests : IAsyncDisposable
{
    private static readonly StateSchema s_schema = StateSchema.Default;
    private static readonly NodeId s_root = NodeId.FromName("root");
    private static readonly NodeId s_tier1 = NodeId.FromName("t1");
    private static readonly NodeId s_leaf = NodeId.FromName("leaf");

    private readonly SyncCluster _c = new();
    private readonly BootstrapCredentials _issued;

    public BootstrapTests()
    {
        _issued = new BootstrapCredentials(_c.Time, TimeSpan.FromMinutes(10));
    }

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    private static StateStore RootStore()
    {
        var store = new StateStore();
        store.Create(NodeRecord.Empty(s_root).Edit().Set(s_schema.Nodename, StateValue.FromString("root")).Build());
        store.Create(NodeRecord.Empty(s_tier1).Edit().Set(s_schema.Nodename, StateValue.FromString("t1")).Set(s_schema.ParentId, StateValue.FromNodeId(s_root)).Build());
        store.Create(NodeRecord.Empty(s_leaf).Edit().Set(s_schema.Nodename, StateValue.FromString("leaf")).Set(s_schema.ParentId, StateValue.FromNodeId(s_tier1)).Build());
        return store;
    }

    /// <summary>The root, issuing credentials and handing a child's subtree its BMC secret.</summary>
    private SyncCluster.Member StartRoot() => _c.Add(s_root, RootStore(), [], configure: o => o with
    {
        Bootstrap = _issued,
        SecretsFor = (child, subtree) => subtree.Contains(s_leaf) && child != s_leaf ? new Dictionary<string, string> { ["bmc-leaf"] = "leaf-bmc-password" } : new Dictionary<string, string>(),
    });

    /// <summary>A node as its parent booted it: no join secret, only the credential its boot delivered.</summary>
    private SyncCluster.Member StartBooted(NodeId id, byte[] credential, NodeId parent) =>
        _c.Add(id, new StateStore(), [SyncCluster.EndPointOf(parent)], configure: o => o with { JoinSecret = [], BootstrapCredential = credential }, secret: []);

    private bool Joined(SyncCluster.Member m) => m.ParentAdjacency?.State == AdjacencyState.Full;

    [Fact]
    public void A_booted_node_joins_with_its_credential_receives_the_secret_and_its_subtrees_credentials()
    {
        StartRoot();
        var credential = _issued.Issue(s_tier1, SyncCluster.EndPointOf(s_tier1));
        var t1 = StartBooted(s_tier1, credential, s_root);
        IReadOnlyDictionary<string, string>? received = null;
        t1.Engine.SecretsReceived += s => received = s;
        Assert.False(t1.Engine.HasJoinSecret);

        _c.RunUntil(() => Joined(t1), TimeSpan.FromSeconds(30), "the booted tier-1 joined");
        Assert.True(t1.Engine.HasJoinSecret);
        Assert.Equal("leaf-bmc-password", Assert.Single(received!, kv => kv.Key == "bmc-leaf").Value);
        Assert.Equal("leaf", t1.Cfg(s_leaf, s_schema.Nodename).String);
        Assert.Equal(1, _issued.Consumed);
    }

    [Fact]
    public void A_node_booted_this_way_admits_its_own_children_and_rejoins_with_the_cluster_secret()
    {
        StartRoot();
        var t1 = StartBooted(s_tier1, _issued.Issue(s_tier1, SyncCluster.EndPointOf(s_tier1)), s_root);
        _c.RunUntil(() => Joined(t1), TimeSpan.FromSeconds(30), "tier-1 joined");

        // The leaf holds the cluster secret (configured): the tier-1 can only admit it with the secret it was handed.
        var leaf = _c.Add(s_leaf, new StateStore(), [SyncCluster.EndPointOf(s_tier1)]);
        _c.RunUntil(() => Joined(leaf), TimeSpan.FromSeconds(30), "the leaf joined the booted tier-1");
        Assert.Equal("SYNC", _c[s_root].Dsc(s_leaf, s_schema.RunState).ToString());

        // The tier-1 loses its parent for a while: it re-joins with the cluster secret; its credential is long spent.
        _c.Network.Partition(SyncCluster.EndPointOf(s_root), SyncCluster.EndPointOf(s_tier1));
        _c.RunUntil(() => t1.ParentAdjacency?.State != AdjacencyState.Full, TimeSpan.FromMinutes(1), "the partition noticed");
        _c.Network.Heal(SyncCluster.EndPointOf(s_root), SyncCluster.EndPointOf(s_tier1));
        _c.RunUntil(() => Joined(t1), TimeSpan.FromMinutes(2), "re-joined after the partition");
        Assert.Equal(0, _issued.Refused(BootstrapRefusal.Used));
    }

    [Fact]
    public async Task A_second_use_of_a_credential_is_refused_and_counted()
    {
        var root = StartRoot();
        var credential = _issued.Issue(s_tier1, SyncCluster.EndPointOf(s_tier1));
        var t1 = StartBooted(s_tier1, credential, s_root);
        _c.RunUntil(() => Joined(t1), TimeSpan.FromSeconds(30), "joined");

        // The same node boots again without a new credential (a replay of the boot's files): refused, whatever it tries.
        _c.Crash(s_tier1);
        await _c.StopAsync(s_tier1);
        var refusals = root.Engine.Counters.JoinRefusals;
        var again = StartBooted(s_tier1, credential, s_root);
        _c.Run(TimeSpan.FromSeconds(20));
        Assert.False(Joined(again));
        Assert.True(_issued.Refused(BootstrapRefusal.Used) >= 1);
        Assert.True(root.Engine.Counters.JoinRefusals > refusals);
        Assert.False(again.Engine.HasJoinSecret);
    }

    [Fact]
    public void An_expired_credential_is_refused()
    {
        StartRoot();
        var credential = _issued.Issue(s_tier1, SyncCluster.EndPointOf(s_tier1));
        _c.Run(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        var t1 = StartBooted(s_tier1, credential, s_root);
        _c.Run(TimeSpan.FromSeconds(20));
        Assert.False(Joined(t1));
        Assert.True(_issued.Refused(BootstrapRefusal.Expired) >= 1);
        Assert.Equal(0, _issued.Consumed);
    }

    [Fact]
    public void A_credential_presented_from_another_host_is_refused_and_stays_usable_by_its_own()
    {
        StartRoot();

        // Issued to the tier-1's boot; another host (the leaf's address) presents it as the tier-1.
        var credential = _issued.Issue(s_tier1, SyncCluster.EndPointOf(s_tier1));
        var thief = _c.Add(s_tier1, new StateStore(), [SyncCluster.EndPointOf(s_root)], configure: o => o with { JoinSecret = [], BootstrapCredential = credential }, secret: [], endPoint: SyncCluster.EndPointOf(s_leaf));
        _c.Run(TimeSpan.FromSeconds(10));
        Assert.False(Joined(thief));
        Assert.True(_issued.Refused(BootstrapRefusal.WrongHost) >= 1);
        Assert.Equal(0, _issued.Consumed);
    }

    [Fact]
    public void A_credential_never_issued_and_a_wrong_one_get_nowhere()
    {
        StartRoot();
        var t1 = StartBooted(s_tier1, Encoding.ASCII.GetBytes("not-a-credential-the-root-issued"), s_root);
        _c.Run(TimeSpan.FromSeconds(10));
        Assert.True(_issued.Refused(BootstrapRefusal.Unknown) >= 1);

        // Issued, but the node holds other bytes: the request's MAC does not verify.
        _issued.Issue(s_tier1, SyncCluster.EndPointOf(s_tier1));
        var drops = _c[s_root].Engine.Counters.Drops(DropReason.BadMac);
        _c.Run(TimeSpan.FromSeconds(40));
        Assert.False(Joined(t1));
        Assert.True(_c[s_root].Engine.Counters.Drops(DropReason.BadMac) > drops);
        Assert.Equal(0, _issued.Consumed);
    }

    [Fact]
    public void Sealed_secrets_open_only_under_their_key_and_context()
    {
        var key = SyncKeys.DeriveSecretsKey(new byte[32], new byte[16], new byte[16], 1, 2);
        var box = SecretBox.Seal(key, "secret"u8, "ctx"u8);
        Assert.Equal("secret"u8.ToArray(), SecretBox.Open(key, box, "ctx"u8));
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => SecretBox.Open(key, box, "other"u8));
        var tampered = (byte[])box.Clone();
        tampered[SecretBox.NonceSize] ^= 1;
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => SecretBox.Open(key, tampered, "ctx"u8));
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => SecretBox.Open(key, box.AsSpan(0, SecretBox.Overhead - 1), "ctx"u8));
        var other = SyncKeys.DeriveSecretsKey(new byte[32], new byte[16], new byte[16], 1, 3);
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => SecretBox.Open(other, box, "ctx"u8));
    }
}
