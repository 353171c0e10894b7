// The records a written node is checked against: parent chains and the holders of its MACs and addresses.
using System.Net;
using Kraken.Daemon.Api;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;

namespace Kraken.Daemon.Tests.Api;

public sealed class CfgNeighbourhoodTests
{
    private static StateStore Example()
    {
        var store = new StateStore();
        StateFileImporter.ImportFile(store, TestDaemon.ExampleCluster);
        return store;
    }

    private static NodeRecord Node(StateStore store, string id, params (string Url, string Value)[] values)
    {
        var editor = NodeRecord.Empty(NodeId.Parse(id, null), store.Schema).Edit();
        foreach (var (url, value) in values)
        {
            editor.Set(url, value);
        }

        return editor.Build();
    }

    [Fact]
    public void Finds_the_parent_chain_and_the_holders_of_the_same_addresses_only()
    {
        var store = Example();
        using var n = new CfgNeighbourhood(store);
        var candidate = Node(store, "00000000-0000-4000-8000-00000000c001", ("/ParentId", TestDaemon.N101), ("/Extensions/IPv4/Interfaces/kraken/Mac", "52:54:00:18:00:11"));
        var related = n.Related([candidate]).Select(r => r.Nodename).Order().ToList();

        // n101 -> t1a -> root is the chain, and n101's backup parent t1b -> root; t1a also holds the MAC.
        Assert.Equal(NodeId.Parse("00000000-0000-4000-8000-000000000102", null), Assert.Single(store.Get(StateView.Cfg, NodeId.Parse(TestDaemon.N101, null))!.BackupParents));
        Assert.Equal(["n101", "root", "t1a", "t1b"], related);
    }

    [Fact]
    public void Follows_changes_to_the_store()
    {
        var store = Example();
        using var n = new CfgNeighbourhood(store);
        const string mac = "52:54:00:aa:bb:cc";
        var candidate = Node(store, "00000000-0000-4000-8000-00000000c001", ("/Extensions/IPv4/Interfaces/kraken/Mac", mac));
        Assert.Empty(n.Related([candidate]));

        var n102 = NodeId.Parse("00000000-0000-4000-8000-000000001002", null);
        store.Set(StateView.Cfg, n102, "/Extensions/IPv4/Interfaces/kraken/Mac", mac);
        Assert.Equal("n102", Assert.Single(n.Related([candidate])).Nodename);

        store.Delete(n102);
        Assert.Empty(n.Related([candidate]));
    }

    [Fact]
    public async Task The_api_still_refuses_duplicate_addresses_and_parent_loops()
    {
        await using var d = await TestDaemon.StartRootAsync();
        var dupMac = await d.Authorized.PostAsync("/api/v1/cfg/nodes", new StringContent(
            """{"id": "00000000-0000-4000-8000-00000000c001", "parentId": """ + $"\"{TestDaemon.T1a}\"" + """, "extensions": {"IPv4": {"interfaces": {"kraken": {"mac": "52:54:00:18:00:11"}}}}}""",
            System.Text.Encoding.UTF8,
            "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, dupMac.StatusCode);
        Assert.Contains(TestDaemon.T1a, await dupMac.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // t1a under its own child n101: a loop.
        var loop = await d.Authorized.PutAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}", new StringContent(
            $$"""{"id": "{{TestDaemon.T1a}}", "nodename": "t1a", "parentId": "{{TestDaemon.N101}}"}""",
            System.Text.Encoding.UTF8,
            "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, loop.StatusCode);
        Assert.Contains("loops", await loop.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(NodeId.Parse(TestDaemon.RootId, null), d.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(TestDaemon.T1a, null))!.ParentId);
    }
}
