// The power module with the IPMI driver on the real reconcile engine, on real time, against ipmi_sim.
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Interop;

[Trait("Category", "Interop")]
public sealed class IpmiEngineTests : IAsyncLifetime
{
    private readonly IpmiSimBmc _bmc = new();
    private readonly IpmiPowerDriver _driver;
    private readonly RealTimeEngine _e;

    public IpmiEngineTests()
    {
        var credentials = new InMemoryCredentialProvider().Set("bmc", IpmiSimBmc.Password).Set("stale", "an-old-password");
        _driver = new IpmiPowerDriver(credentials, new IpmiOptions { PacketTimeout = TimeSpan.FromMilliseconds(200), PacketRetries = 1 });
        _e = new RealTimeEngine([_driver], new PowerOptions { CallTimeout = TimeSpan.FromSeconds(2), Retries = 2, RetryDelay = TimeSpan.FromMilliseconds(100), StepTimeout = TimeSpan.FromSeconds(20), PollInterval = TimeSpan.Zero });
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _e.DisposeAsync();
        _driver.Dispose();
        _bmc.Dispose();
    }

    private NodeId AddNode(string name, string credential, string? cfg, string? dsc) => _e.AddNode(
        name,
        [("Driver", "ipmi"), ("Address", "127.0.0.1"), ("Port", _bmc.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("User", IpmiSimBmc.User), ("Credential", credential)],
        cfg,
        dsc);

    [Fact]
    public async Task Engine_powers_the_node_on_then_off_and_ipmitool_agrees_each_time()
    {
        var n = AddNode("n1", "bmc", "POWER_ON", null);
        Assert.True(await _e.ReachesAsync(n, "POWER_ON"), $"Dsc is {_e.Phys(n)}");
        Assert.Equal("Chassis Power is on", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));

        _e.SetCfg(n, "POWER_OFF");
        Assert.True(await _e.ReachesAsync(n, "POWER_OFF"), $"Dsc is {_e.Phys(n)}");
        Assert.Equal("Chassis Power is off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
    }

    [Fact]
    public async Task Wrong_password_in_a_bulk_run_is_a_clear_failure_and_leaves_dsc_unchanged()
    {
        var n = AddNode("n1", "stale", null, "POWER_OFF");
        var version = _e.Store.GetRequired(StateView.Dsc, n).Version;
        var summary = await _e.Module.RunBulkAsync([n], PowerAction.On);
        var r = Assert.Single(summary.Results);
        Assert.Equal(BulkOutcome.Failed, r.Outcome);
        Assert.Equal(PowerErrorKind.Authentication, r.Error);
        Assert.Contains("rejected the password for user 'admin'", r.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("an-old-password", r.Reason, StringComparison.Ordinal);
        Assert.Equal(1, r.Calls);
        Assert.Equal(version, _e.Store.GetRequired(StateView.Dsc, n).Version);
        Assert.Equal("Chassis Power is off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
    }

    [Fact]
    public async Task Bmc_that_stops_answering_ends_in_phys_hang_after_the_configured_retries()
    {
        var n = AddNode("n1", "bmc", "POWER_ON", null);
        Assert.True(await _e.ReachesAsync(n, "POWER_ON"), $"Dsc is {_e.Phys(n)}");
        _bmc.Stop();
        _e.SetCfg(n, "POWER_OFF");
        Assert.True(await _e.ReachesAsync(n, "PHYS_HANG"), $"Dsc is {_e.Phys(n)}");
        var state = await _e.Engine.GetStateAsync(n);
        Assert.Contains("ONtoOFF: Off via ipmi", state!.LastFailure, StringComparison.Ordinal);
        Assert.Contains("after 3 call(s)", state.LastFailure, StringComparison.Ordinal);
    }
}
