// "kraken plan" on every child of the example cluster, on a root daemon with the real module set (power with its IPMI
// and qemu drivers, PXE on the loopback interface, join): each plans the whole way from all-off to SYNC.
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Tests.Functional;

namespace Kraken.Daemon.Tests.Cli;

[Trait("Category", "Network")]
public sealed class PlanFromColdTests
{
    private static readonly string[] s_path = ["UKtoOFF", "OFFtoON", "NONEtoWAIT", "WAITtoINIT", "INITtoCOMP", "INITtoSYNC"];
    private static readonly string[] s_modules = ["power", "power", "pxe", "pxe", "pxe", "join"];

    [Fact]
    public async Task Every_child_of_the_example_cluster_plans_power_pxe_and_join_from_all_off_to_sync()
    {
        var dir = Directory.CreateTempSubdirectory("kraken-plan-cold-").FullName;
        try
        {
            string[] args =
            [
                $"--NodeId={TestDaemon.RootId}",
                "--Role=root",
                "--Api:Url=http://127.0.0.1:0",
                "--Sync:Bind=127.0.0.1:0",
                $"--Sync:JoinSecret={TestDaemon.Secret}",
                "--Store:Path=:memory:",
                $"--Store:Import={TestDaemon.ExampleCluster}",
                "--Reconcile:StartFrozen=true", // plan, do not act: no BMC or qemu behind these Cfg records
                "--Modules:Power:Drivers:0=ipmi",
                "--Modules:Power:Drivers:1=qemu",
                "--Modules:Pxe:Interface=lo",
                "--Modules:Pxe:ServerAddress=127.0.0.1",
                "--Modules:Pxe:LinkKind=AfPacket",
                "--Modules:Pxe:RouterAdvertisements=false",
                $"--Modules:Pxe:BootRoot={dir}",
                $"--Modules:Pxe:HttpPort={DaemonProcess.FreePort()}",
            ];
            await using var app = DaemonHost.Build(null, args);
            await app.StartAsync();
            var url = DaemonHost.ListeningUrls(app)[0];
            using var http = new HttpClient { BaseAddress = new Uri(url) };

            using var cluster = JsonDocument.Parse(await File.ReadAllTextAsync(TestDaemon.ExampleCluster));
            var children = cluster.RootElement.GetProperty("nodes").EnumerateArray()
                .Where(n => n.TryGetProperty("parentId", out _))
                .Select(n => n.GetProperty("id").GetString()!)
                .ToList();
            Assert.Equal(8, children.Count); // two tier-1 nodes, six leaves

            foreach (var id in children)
            {
                // The API: the plan's steps, in order, with the module of each.
                using var plan = JsonDocument.Parse(await http.GetStringAsync($"/api/v1/nodes/{id}/plan"));
                var p = plan.RootElement.GetProperty("plan");
                Assert.True(p.GetProperty("status").GetString() == "Path", $"{id}: {plan.RootElement}");
                Assert.Equal("{}", p.GetProperty("start").GetString());
                Assert.Equal(6, p.GetProperty("cost").GetInt32());
                var steps = p.GetProperty("steps").EnumerateArray().ToList();
                Assert.Equal(s_path, steps.Select(s => s.GetProperty("mutation").GetString()));
                Assert.Equal(s_modules, steps.Select(s => s.GetProperty("module").GetString()));
                Assert.Equal("{/RunState=SYNC}", p.GetProperty("goal").GetString());

                // The verb an operator runs prints the same path as a table.
                var stdout = new StringWriter();
                var stderr = new StringWriter();
                Assert.Equal(0, await CommandLine.RunAsync(["plan", id, "--server", url], stdout, stderr));
                var rows = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.Contains($"node {id}:", rows[0], StringComparison.Ordinal);
                Assert.StartsWith("plan Path, cost 6: {} -> {/RunState=SYNC}", rows[1], StringComparison.Ordinal);
                Assert.Equal(s_path, rows.Skip(3).Select(r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));
            }

            await app.StopAsync();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
