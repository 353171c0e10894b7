// A GET then PUT of the original's node JSON (/cfg/node/{id}) keeps every value: power settings, MTU, and what
// the original could not express (gateways, power ports and users, backup parents, enums set to their zero).
using System.Net;
using System.Text.Json;
using Kraken.Tree.State;

namespace Kraken.Daemon.Tests.Api;

[Trait("Category", "Network")]
public sealed class CompatRoundTripTests : RootDaemonTestBase
{
    private const string Vbox = "3c989608-3b2d-579f-a54c-8149e5f507d7";
    private const string Powerman = "00000000-0000-4000-8000-00000000a002";
    private const string PowerApi = "00000000-0000-4000-8000-00000000a003";
    private const string Native = "00000000-0000-4000-8000-00000000a004";

    /// <summary>kr1 of examples/legacy-vbox-nodelist.json (every field that file uses), plus an MTU and a host name.</summary>
    private static string VboxNode => $$$$$"""
        {"id": "{{{{{Vbox}}}}}", "nodename": "kr1", "arch": "amd64", "platform": "vbox", "parentId": "{{{{{TestDaemon.RootId}}}}}",
         "runState": "SYNC", "physState": "POWER_ON",
         "services": [{"id": "pxe", "module": "github.com/hpc/kraken/modules/pxe", "state": "RUN"}],
         "extensions": [{"vmName": "kr1", "apiServer": "vbm", "@type": "type.googleapis.com/VBox.VirtualMachine"},
           {"ifaces": {"kraken": {"eth": {"mac": "aa:bb:cc:00:11:01", "iface": "eth0", "mtu": 9000},
            "ip": {"ip": "198.18.12.11", "subnet": "255.255.255.0"}}}, "hostname": {"hostname": "kr1"},
            "@type": "type.googleapis.com/IPv4.IPv4OverEthernet"},
           {"@type": "type.googleapis.com/PXE.Client", "method": "IPXE", "state": "WAIT"}]}
        """;

    private static string PowerNode(string id, string name, string type, string mac, string ip) => $$$$$"""
        {"id": "{{{{{id}}}}}", "nodename": "{{{{{name}}}}}", "platform": "metal", "parentId": "{{{{{TestDaemon.RootId}}}}}", "runState": "SYNC", "services": [],
         "extensions": [{"@type": "type.googleapis.com/{{{{{type}}}}}", "apiServer": "pm.example", "nodeName": "{{{{{name}}}}}"},
           {"@type": "type.googleapis.com/IPv4.IPv4OverEthernet", "ifaces": {"kraken": {"eth": {"mac": "{{{{{mac}}}}}", "mtu": 1500}, "ip": {"ip": "{{{{{ip}}}}}", "subnet": "255.255.0.0"}}}}]}
        """;

    /// <summary>Values the original's JSON has no field for, created through our own API.</summary>
    private static string NativeNode => $$$$$"""
        {"id": "{{{{{Native}}}}}", "nodename": "n-native", "physState": "PHYS_UNKNOWN", "runState": "SYNC", "parentId": "{{{{{TestDaemon.RootId}}}}}",
         "backupParents": ["{{{{{TestDaemon.T1a}}}}}"],
         "extensions": {
           "IPv4": {"interfaces": {"kraken": {"device": "eth0", "mac": "aa:bb:cc:00:22:01", "ip": "198.18.13.5", "prefix": 24, "gateway": "198.18.13.1", "mtu": 1500}}, "hostname": "n-native"},
           "Pxe": {"method": "PXE", "state": "NONE"},
           "Power": {"driver": "ipmi", "address": "198.18.14.5", "port": 623, "user": "admin", "credential": "bmc-default", "system": "n-native"}},
         "services": {"pxe": {"state": "UNKNOWN"}, "dhcp": {"state": "RUN"}}}
        """;

    [Fact]
    public async Task Get_then_put_of_the_originals_node_json_keeps_every_value()
    {
        Assert.Equal(HttpStatusCode.OK, (await D.Authorized.PostAsync("/cfg/node", Json(VboxNode))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await D.Authorized.PostAsync("/cfg/node", Json(PowerNode(Powerman, "pm1", "Powerman.Control", "aa:bb:cc:00:11:02", "198.18.20.2")))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await D.Authorized.PostAsync("/cfg/node", Json(PowerNode(PowerApi, "pa1", "PowerAPI.Node", "aa:bb:cc:00:11:03", "198.18.20.3")))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await D.Authorized.PostAsync("/api/v1/cfg/nodes", Json(NativeNode))).StatusCode);

        foreach (var id in new[] { Vbox, Powerman, PowerApi, Native, TestDaemon.T1a, TestDaemon.N101 })
        {
            var before = D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(id, null))!;
            var first = await D.Http.GetStringAsync($"/cfg/node/{id}");
            var put = await D.Authorized.PutAsync($"/cfg/node/{id}", Json(first));
            Assert.True(put.StatusCode == HttpStatusCode.OK, $"{id}: {put.StatusCode} {await put.Content.ReadAsStringAsync()}");
            var second = await D.Http.GetStringAsync($"/cfg/node/{id}");
            Assert.Equal(first, second);

            var after = D.Daemon.Store.Get(StateView.Cfg, NodeId.Parse(id, null))!;
            Assert.True(before.ValuesEqual(after), $"{id} changed: {first}");
            Assert.Equal(before.Version, after.Version);
        }

        // The original's messages carry what they can: power by driver, the MTU, the host name ...
        var kr1 = Extensions(await D.Http.GetStringAsync($"/cfg/node/{Vbox}"));
        var vbox = kr1["VBox.VirtualMachine"];
        Assert.Equal("vbm", vbox.GetProperty("apiServer").GetString());
        Assert.Equal("kr1", vbox.GetProperty("vmName").GetString());
        var kraken = kr1["IPv4.IPv4OverEthernet"].GetProperty("ifaces").GetProperty("kraken");
        Assert.Equal(9000, kraken.GetProperty("eth").GetProperty("mtu").GetInt32());
        Assert.Equal("kr1", kr1["IPv4.IPv4OverEthernet"].GetProperty("hostname").GetProperty("hostname").GetString());
        // A node the original could describe reads as the original wrote it: no entry of ours.
        Assert.Equal(["IPv4.IPv4OverEthernet", "PXE.Client", "VBox.VirtualMachine"], kr1.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("pm1", Extensions(await D.Http.GetStringAsync($"/cfg/node/{Powerman}"))["Powerman.Control"].GetProperty("nodeName").GetString());
        Assert.Equal("pm.example", Extensions(await D.Http.GetStringAsync($"/cfg/node/{PowerApi}"))["PowerAPI.Node"].GetProperty("apiServer").GetString());

        // ... and entries of our own messages the rest.
        var native = Extensions(await D.Http.GetStringAsync($"/cfg/node/{Native}"));
        Assert.Equal(623, native["kraken.ext.Power"].GetProperty("port").GetInt32());
        Assert.Equal("198.18.13.1", native["kraken.ext.IPv4"].GetProperty("interfaces").GetProperty("kraken").GetProperty("gateway").GetString());
        Assert.Equal("PXE", native["kraken.ext.Pxe"].GetProperty("method").GetString());
        var node = native["kraken.Node"];
        Assert.Equal("PHYS_UNKNOWN", node.GetProperty("physState").GetString());
        Assert.Equal(TestDaemon.T1a, node.GetProperty("backupParents")[0].GetString());
        Assert.Equal("UNKNOWN", node.GetProperty("services").GetProperty("pxe").GetProperty("state").GetString());
        Assert.False(native.ContainsKey("VBox.VirtualMachine"));
    }

    private static Dictionary<string, JsonElement> Extensions(string json) =>
        JsonDocument.Parse(json).RootElement.GetProperty("extensions").EnumerateArray()
            .ToDictionary(e => e.GetProperty("@type").GetString()!["type.googleapis.com/".Length..], e => e.Clone());
}
