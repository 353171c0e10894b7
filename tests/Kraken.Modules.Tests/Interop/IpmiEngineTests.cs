// The power module with the IPMI driver on the real reconcile engine, on real time, against ipmi_sim.
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Modules.Tests.Power;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Interop;

[Trait("Category", "Interop")]
public sealed class IpmiEngineTests : IAsyncLifetime
{
    private readonly IpmiSimBmc _bmc = new();
    private readonly SerialExecutor _executor = new();
    private readonly StateStore _store = new(StateSchema.Default);
    private readonly NodeId _self = NodeId.FromName("parent");
    private readonly IpmiPowerDriver _driver;
    private readonly PowerModule _module;
    private readonly ReconcileEngine _engine;

    public IpmiEngineTests()
    {
        var credentials = new InMemoryCredentialProvider().Set("bmc", IpmiSimBmc.Password).Set("stale", "an-old-password");
        _driver = new IpmiPowerDriver(credentials, new IpmiOptions { PacketTimeout = TimeSpan.FromMilliseconds(200), PacketRetries = 1 });
        var power = new PowerOptions { CallTimeout = TimeSpan.FromSeconds(2), Retries = 2, RetryDelay = TimeSpan.FromMilliseconds(100), StepTimeout = TimeSpan.FromSeconds(20), PollInterval = TimeSpan.Zero };
        _module = new PowerModule([_driver], _executor, TimeProvider.System, power);
        _engine = new ReconcileEngine(_self, _store, [_module], _executor, TimeProvider.System, new ReconcileOptions { MaxAttempts = 1 });
        _engine.Start();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _module.Dispose();
        _engine.Dispose();
        await _executor.DisposeAsync();
        _driver.Dispose();
        _bmc.Dispose();
    }

    private NodeId AddNode(string name, string credential, string? cfg, string? dsc) => PowerNodes.Create(
        _store,
        _self,
        name,
        [("Driver", "ipmi"), ("Address", "127.0.0.1"), ("Port", _bmc.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("User", IpmiSimBmc.User), ("Credential", credential)],
        cfg,
        dsc);

    private string Phys(NodeId id) => _store.GetRequired(StateView.Dsc, id).Get(_store.Schema.PhysState).ToString();

    private static async Task<bool> Eventually(Func<bool> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    [Fact]
    public async Task Engine_powers_the_node_on_then_off_and_ipmitool_agrees_each_time()
    {
        var n = AddNode("n1", "bmc", "POWER_ON", null);
        Assert.True(await Eventually(() => Phys(n) == "POWER_ON", TimeSpan.FromSeconds(15)), $"Dsc is {Phys(n)}");
        Assert.Equal("Chassis Power is on", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));

        _store.Set(StateView.Cfg, n, "/PhysState", "POWER_OFF");
        Assert.True(await Eventually(() => Phys(n) == "POWER_OFF", TimeSpan.FromSeconds(15)), $"Dsc is {Phys(n)}");
        Assert.Equal("Chassis Power is off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
    }

    [Fact]
    public async Task Wrong_password_in_a_bulk_run_is_a_clear_failure_and_leaves_dsc_unchanged()
    {
        var n = AddNode("n1", "stale", null, "POWER_OFF");
        var version = _store.GetRequired(StateView.Dsc, n).Version;
        var summary = await _module.RunBulkAsync([n], PowerAction.On);
        var r = Assert.Single(summary.Results);
        Assert.Equal(BulkOutcome.Failed, r.Outcome);
        Assert.Equal(PowerErrorKind.Authentication, r.Error);
        Assert.Contains("rejected the password for user 'admin'", r.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("an-old-password", r.Reason, StringComparison.Ordinal);
        Assert.Equal(1, r.Calls);
        Assert.Equal(version, _store.GetRequired(StateView.Dsc, n).Version);
        Assert.Equal("Chassis Power is off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
    }

    [Fact]
    public async Task Bmc_that_stops_answering_ends_in_phys_hang_after_the_configured_retries()
    {
        var n = AddNode("n1", "bmc", "POWER_ON", null);
        Assert.True(await Eventually(() => Phys(n) == "POWER_ON", TimeSpan.FromSeconds(15)), $"Dsc is {Phys(n)}");
        _bmc.Stop();
        _store.Set(StateView.Cfg, n, "/PhysState", "POWER_OFF");
        Assert.True(await Eventually(() => Phys(n) == "PHYS_HANG", TimeSpan.FromSeconds(15)), $"Dsc is {Phys(n)}");
        var state = await _engine.GetStateAsync(n);
        Assert.Contains("ONtoOFF: Off via ipmi", state!.LastFailure, StringComparison.Ordinal);
        Assert.Contains("after 3 call(s)", state.LastFailure, StringComparison.Ordinal);
    }
}
