// Four real daemon processes on loopback (root, one tier-1, two leaves) driven by the CLI verbs.
using System.Text.Json;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Tests.Functional;

[Trait("Category", "Network")]
public sealed class MultiProcessTreeTests
{
    private const string Leaf1 = "00000000-0000-4000-8000-000000001001";
    private const string Leaf2 = "00000000-0000-4000-8000-000000001002";

    [Fact]
    public async Task A_cfg_change_at_the_root_reaches_a_leaf_and_a_leafs_dsc_reaches_the_root()
    {
        var dir = Directory.CreateTempSubdirectory("kraken-tree-test-").FullName;
        var processes = new List<DaemonProcess>();
        try
        {
            var root = DaemonProcess.Start(dir, "root", TestDaemon.RootId, [], storePath: Path.Combine(dir, "root.db"), import: TestDaemon.ExampleCluster);
            processes.Add(root);
            var tier1 = DaemonProcess.Start(dir, "t1a", TestDaemon.T1a, [root.SyncPort]);
            processes.Add(tier1);
            var leaf1 = DaemonProcess.Start(dir, "n101", Leaf1, [tier1.SyncPort]);
            processes.Add(leaf1);
            var leaf2 = DaemonProcess.Start(dir, "n102", Leaf2, [tier1.SyncPort]);
            processes.Add(leaf2);
            foreach (var p in processes)
            {
                await p.WaitReadyAsync(TimeSpan.FromSeconds(30));
            }

            // The tree forms: t1a is Full with the root and with both leaves; the root sees the leaves' Dsc.
            await Until(async () =>
            {
                var tree = JsonDocument.Parse(await Cli(tier1, "tree", "--json")).RootElement;
                return tree.GetProperty("adjacencies").EnumerateArray().Count(a => a.GetProperty("state").GetString() == "Full") == 3;
            }, "t1a has its parent and both leaves Full", processes);
            await Until(async () =>
            {
                var list = JsonDocument.Parse(await Cli(root, "nodes", "list", "--dsc", "--filter", "/RunState=SYNC", "--json")).RootElement;
                var ids = list.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("id").GetString()).ToHashSet();
                return ids.Contains(Leaf1) && ids.Contains(Leaf2);
            }, "the root sees both leaves SYNC in Dsc", processes);

            // Watch at the root (only n101) and at the leaf, then set at the root.
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var rootWatch = new StringWriter();
            var leafWatch = new StringWriter();
            var rootWatching = CommandLine.RunAsync(["watch", "--node", Leaf1, "--url", "/Arch", "--count", "2", "--json", "--server", root.ApiUrl], rootWatch, TextWriter.Null, stop.Token);
            var leafWatching = CommandLine.RunAsync(["watch", "--node", Leaf1, "--view", "cfg", "--url", "/PhysState", "--count", "1", "--json", "--server", leaf1.ApiUrl], leafWatch, TextWriter.Null, stop.Token);
            await Task.Delay(500);

            Assert.StartsWith("set 2 value", await Cli(root, "node", "set", Leaf1, "/PhysState=POWER_ON", "/Arch=arm64", "--token", TestDaemon.Token), StringComparison.Ordinal);
            await Until(async () =>
            {
                var node = JsonDocument.Parse(await Cli(leaf1, "node", "get", Leaf1, "--json")).RootElement;
                return node.TryGetProperty("physState", out var p) && p.GetString() == "POWER_ON";
            }, "the leaf's Cfg has the root's change", processes);

            // A running daemon's own Dsc says it is powered, at the leaf and so at the root.
            var own = JsonDocument.Parse(await Cli(root, "node", "get", Leaf1, "--dsc", "--json")).RootElement;
            Assert.Equal("POWER_ON", own.GetProperty("physState").GetString());

            // A Dsc change made at the leaf (through the original's path, with the token) travels up to the root.
            using (var http = new HttpClient())
            {
                using var put = new HttpRequestMessage(HttpMethod.Put, $"{leaf1.ApiUrl}/dsc/node/{Leaf1}")
                {
                    Content = new StringContent($$"""{"id": "{{Leaf1}}", "physState": "POWER_ON", "arch": "arm64"}""", System.Text.Encoding.UTF8, "application/json"),
                };
                put.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestDaemon.Token);
                Assert.True((await http.SendAsync(put)).IsSuccessStatusCode);
            }

            await Until(async () =>
            {
                var node = JsonDocument.Parse(await Cli(root, "node", "get", Leaf1, "--dsc", "--json")).RootElement;
                return node.TryGetProperty("arch", out var a) && a.GetString() == "arm64";
            }, "the root sees the leaf's Dsc change", processes);

            Assert.Equal(0, await rootWatching.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(0, await leafWatching.WaitAsync(TimeSpan.FromSeconds(30)));
            var seenAtRoot = rootWatch.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Contains(seenAtRoot, e => e.GetProperty("view").GetString() == "cfg" && e.GetProperty("new").GetString() == "arm64");
            Assert.Contains(seenAtRoot, e => e.GetProperty("view").GetString() == "dsc" && e.GetProperty("new").GetString() == "arm64");
            var seenAtLeaf = JsonDocument.Parse(leafWatch.ToString().Trim()).RootElement;
            Assert.Equal(Leaf1, seenAtLeaf.GetProperty("node").GetString());
            Assert.Equal("POWER_ON", seenAtLeaf.GetProperty("new").GetString());

            // Graceful shutdown on SIGTERM.
            var exit = leaf2.Terminate(TimeSpan.FromSeconds(15));
            Assert.True(exit == 0, $"n102 exited {exit} on SIGTERM:\n{leaf2.ReadLog()}");
        }
        finally
        {
            foreach (var p in processes)
            {
                p.Dispose();
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<string> Cli(DaemonProcess server, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CommandLine.RunAsync([.. args, "--server", server.ApiUrl], stdout, stderr);
        Assert.True(code == 0, $"kraken {string.Join(' ', args)} at {server.Name} exited {code}: {stderr}");
        return stdout.ToString();
    }

    private static async Task Until(Func<Task<bool>> condition, string what, List<DaemonProcess> processes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting until {what}\n" + string.Join("\n", processes.Select(p => $"--- {p.Name} (pid {p.Pid}) ---\n{p.ReadLog()}")));
            }

            await Task.Delay(100);
        }
    }
}
