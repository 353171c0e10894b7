// The daemon's power module with the real IPMI driver, driven through the API, against OpenIPMI's ipmi_sim; ipmitool checks.
using System.Globalization;
using System.Net;
using System.Text.Json;
using Kraken.Modules.Tests.Interop;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using static Kraken.Daemon.Tests.Power.PowerTestSupport;

namespace Kraken.Daemon.Tests.Power;

[Trait("Category", "Network")]
[Trait("Category", "Interop")]
public sealed class PowerIpmiSimTests : IAsyncLifetime
{
    private readonly IpmiSimBmc _bmc = new();
    private readonly string _credentials = Directory.CreateTempSubdirectory("kraken-power-creds-").FullName;

    // A credential from the environment (KRAKEN_CREDENTIAL_<REFERENCE>), unique to this test instance.
    private readonly string _envCredential = $"env-{Guid.NewGuid():N}"[..12];
    private TestDaemon _d = null!;

    public async Task InitializeAsync()
    {
        // The secret is in a credential file, as in production; the Cfg holds only the reference "bmc".
        TestDaemon.WriteSecret(Path.Combine(_credentials, "bmc"), IpmiSimBmc.Password + "\n");
        TestDaemon.WriteSecret(Path.Combine(_credentials, "stale"), "an-old-password\n");
        _d = await StartAsync(
            null,
            "--Modules:Power:Drivers:0=ipmi",
            "--Modules:Power:CallTimeout=00:00:05",
            "--Modules:Power:RetryDelay=00:00:00.100",
            "--Modules:Power:PollInterval=00:00:00",
            "--Modules:Power:Ipmi:PacketTimeout=00:00:00.300",
            $"--Modules:Power:Credentials:Directory={_credentials}",
            "--Modules:Power:Credentials:Environment=true");
        Environment.SetEnvironmentVariable(EnvironmentVariable, IpmiSimBmc.Password);
        var port = _bmc.Port.ToString(CultureInfo.InvariantCulture);
        await CreateNodesAsync(_d, [
            NodeJson(1, $"{{\"driver\":\"ipmi\",\"address\":\"127.0.0.1\",\"port\":{port},\"user\":\"{IpmiSimBmc.User}\",\"credential\":\"bmc\"}}"),
            NodeJson(2, $"{{\"driver\":\"ipmi\",\"address\":\"127.0.0.1\",\"port\":{port},\"user\":\"{IpmiSimBmc.User}\",\"credential\":\"stale\"}}"),
            NodeJson(3, $"{{\"driver\":\"ipmi\",\"address\":\"127.0.0.1\",\"port\":{port},\"user\":\"{IpmiSimBmc.User}\",\"credential\":\"{_envCredential}\"}}"),
        ]);
    }

    private string EnvironmentVariable => "KRAKEN_CREDENTIAL_" + _envCredential.ToUpperInvariant().Replace('-', '_');

    public async Task DisposeAsync()
    {
        Environment.SetEnvironmentVariable(EnvironmentVariable, null);
        await _d.DisposeAsync();
        _bmc.Dispose();
        Directory.Delete(_credentials, recursive: true);
    }

    private string IpmiToolStatus() => _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status");

    /// <summary>
    /// ipmitool's view once it shows <paramref name="expected"/> or the time is up: ipmi_sim derives power from
    /// its start command's process, which a loaded machine may take a moment to start.
    /// </summary>
    private async Task<string> IpmiToolStatusAsync(string expected, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        string status;
        while ((status = IpmiToolStatus()) != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        return status;
    }

    private async Task<JsonElement> RunAsync(string action, int node)
    {
        var (response, body) = await PostAsync(_d.Authorized, $"/api/v1/power/{action}", $"{{\"select\":{{\"ids\":[\"{NodeId(node)}\"]}}}}");
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, body.ToString());
        return await WaitAsync(_d, response.Headers.Location!.OriginalString, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Power_on_and_off_through_the_api_reach_the_bmc_and_ipmitool_agrees()
    {
        Assert.Equal("Chassis Power is off", IpmiToolStatus());

        var on = await RunAsync("on", 1);
        Assert.Equal(1, on.GetProperty("ok").GetInt32());
        Assert.Equal("on", on.GetProperty("results")[0].GetProperty("status").GetString());
        Assert.Equal("Chassis Power is on", IpmiToolStatus());
        Assert.True(_bmc.VmRunning);
        var id = Tree.State.NodeId.Parse(NodeId(1), null);
        Assert.Equal(PhysState.PowerOn, _d.Daemon.Store.Get(StateView.Cfg, id)!.PhysState);
        Assert.Equal(PhysState.PowerOn, _d.Daemon.Store.Get(StateView.Dsc, id)!.PhysState);

        var status = JsonDocument.Parse(await _d.Authorized.GetStringAsync($"/api/v1/power/status?id={NodeId(1)}")).RootElement;
        Assert.Equal("on", status.GetProperty("results")[0].GetProperty("status").GetString());

        var off = await RunAsync("off", 1);
        Assert.Equal(1, off.GetProperty("ok").GetInt32());
        Assert.Equal("off", off.GetProperty("results")[0].GetProperty("status").GetString());
        Assert.Equal("Chassis Power is off", IpmiToolStatus());
        Assert.Equal(PhysState.PowerOff, _d.Daemon.Store.Get(StateView.Cfg, id)!.PhysState);

        // The same BMC through a node whose credential is in the environment: power cycle turns it on.
        var cycle = await RunAsync("cycle", 3);
        Assert.True(cycle.GetProperty("ok").GetInt32() == 1, cycle.ToString());
        Assert.Equal("Chassis Power is on", await IpmiToolStatusAsync("Chassis Power is on", TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task A_wrong_password_is_a_failed_node_with_a_clear_reason_and_no_secret_anywhere()
    {
        var result = await RunAsync("on", 2);
        Assert.Equal((0, 1), (result.GetProperty("ok").GetInt32(), result.GetProperty("failed").GetInt32()));
        var r = result.GetProperty("results")[0];
        Assert.Equal("Authentication", r.GetProperty("error").GetString());
        Assert.Contains("rejected the password for user 'admin'", r.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("Chassis Power is off", IpmiToolStatus());

        // Neither secret shows in the operation, the node's Cfg and Dsc, or the metrics.
        foreach (var path in new[] { result.GetProperty("location").GetString()!, $"/api/v1/cfg/nodes/{NodeId(2)}", $"/api/v1/dsc/nodes/{NodeId(2)}", "/api/v1/power/operations", "/metrics" })
        {
            var text = await _d.Http.GetStringAsync(path);
            Assert.DoesNotContain("an-old-password", text, StringComparison.Ordinal);
            Assert.DoesNotContain(IpmiSimBmc.Password, text, StringComparison.Ordinal);
        }
    }
}
