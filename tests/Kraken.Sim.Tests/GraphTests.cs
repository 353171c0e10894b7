// The simulator runs the daemon's mutation graph: `kraken-sim graph` against a real daemon with PXE, power and join.
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kraken.Daemon.Hosting;

namespace Kraken.Sim.Tests;

public sealed class GraphTests
{
    [Fact]
    public void The_graph_command_prints_power_pxe_and_join()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, Program.Run(["graph"], stdout, new StringWriter()));
        using var doc = JsonDocument.Parse(stdout.ToString());
        var mutations = doc.RootElement.GetProperty("mutations").EnumerateArray()
            .Select(m => (m.GetProperty("id").GetString(), m.GetProperty("module").GetString())).ToList();
        Assert.Equal(
            [("HANGtoOFF", "power"), ("HANGtoON", "power"), ("INITtoCOMP", "pxe"), ("INITtoSYNC", "join"), ("NONEtoWAIT", "pxe"),
             ("OFFtoON", "power"), ("ONtoOFF", "power"), ("UKtoOFF", "power"), ("WAITtoINIT", "pxe")],
            mutations.Order());

        var dot = new StringWriter();
        Assert.Equal(0, Program.Run(["graph", "--dot"], dot, new StringWriter()));
        Assert.StartsWith("digraph", dot.ToString(), StringComparison.Ordinal);
        Assert.Contains("INITtoSYNC", dot.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A root daemon configured with PXE (on the loopback interface: the services start for real), power and the
    /// join step it always has: its <c>GET /api/v1/graph</c> is byte for byte what the simulator prints.
    /// </summary>
    [Fact]
    [Trait("Category", "Network")]
    public async Task The_simulators_graph_is_the_graph_of_a_daemon_with_pxe_power_and_join()
    {
        var dir = Directory.CreateTempSubdirectory("kraken-sim-graph-").FullName;
        try
        {
            string[] args =
            [
                "--NodeId=123e4567-e89b-12d3-a456-426655440000",
                "--Api:Url=http://127.0.0.1:0",
                "--Sync:Bind=127.0.0.1:0",
                "--Sync:JoinSecret=graph-test-join-secret-0123",
                "--Store:Path=:memory:",
                "--Modules:Power:Drivers:0=sim",
                "--Modules:Pxe:Interface=lo",
                "--Modules:Pxe:ServerAddress=127.0.0.1",
                "--Modules:Pxe:LinkKind=AfPacket",
                "--Modules:Pxe:RouterAdvertisements=false",
                $"--Modules:Pxe:BootRoot={dir}",
                $"--Modules:Pxe:HttpPort={FreePort()}",
            ];
            await using var app = DaemonHost.Build(null, args);
            await app.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(DaemonHost.ListeningUrls(app)[0]) };
            var daemon = await http.GetStringAsync("/api/v1/graph");

            var sim = new StringWriter();
            Assert.Equal(0, Program.Run(["graph"], sim, new StringWriter()));
            Assert.Equal(daemon.Trim(), sim.ToString().Trim());
            await app.StopAsync();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
