// Our RMCP+ driver against OpenIPMI's ipmi_sim, cross-checked with ipmitool.
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Interop;

[Trait("Category", "Interop")]
public sealed class IpmiSimTests : IDisposable
{
    private readonly IpmiSimBmc _bmc = new();
    private readonly InMemoryCredentialProvider _credentials = new InMemoryCredentialProvider().Set("bmc", IpmiSimBmc.Password).Set("wrong", "not-the-password");

    private PowerTarget Target(string credential = "bmc") => new(NodeId.FromName("n1"), "ipmi", "127.0.0.1")
    {
        Nodename = "n1",
        Port = _bmc.Port,
        User = IpmiSimBmc.User,
        Credential = credential,
    };

    public void Dispose() => _bmc.Dispose();

    [Fact]
    public async Task Driver_powers_on_and_off_and_ipmitool_agrees()
    {
        using var driver = new IpmiPowerDriver(_credentials);
        var ct = CancellationToken.None;
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target(), PowerAction.Status, ct));
        Assert.Equal("Chassis Power is off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));

        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.On, ct));
        Assert.Equal("Chassis Power is on", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
        Assert.True(_bmc.VmRunning);
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Status, ct));

        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target(), PowerAction.Off, ct));
        Assert.Equal("Chassis Power is off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target(), PowerAction.Status, ct));

        // Five calls, one session.
        Assert.Equal(1, driver.SessionsOpened);
    }

    [Fact]
    public async Task Driver_reads_what_ipmitool_set()
    {
        using var driver = new IpmiPowerDriver(_credentials);
        var ct = CancellationToken.None;
        Assert.Contains("Up/On", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "on"), StringComparison.Ordinal);
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Status, ct));
        Assert.Contains("Down/Off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "off"), StringComparison.Ordinal);

        // ipmi_sim reports "off" once the VM process has exited, a few milliseconds after the command.
        var status = PowerStatus.On;
        for (var i = 0; i < 50 && status != PowerStatus.Off; i++)
        {
            await Task.Delay(20, ct);
            status = await driver.ExecuteAsync(Target(), PowerAction.Status, ct);
        }

        Assert.Equal(PowerStatus.Off, status);
        Assert.Equal(1, driver.SessionsOpened);
    }

    [Fact]
    public async Task Cycle_of_a_powered_node_restarts_it()
    {
        using var driver = new IpmiPowerDriver(_credentials);
        var ct = CancellationToken.None;
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Cycle, ct));
        Assert.Equal("Chassis Power is on", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Cycle, ct));
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Status, ct));
    }

    [Fact]
    public async Task Wrong_password_is_a_clear_authentication_error_that_does_not_name_the_secret()
    {
        using var driver = new IpmiPowerDriver(_credentials);
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(Target("wrong"), PowerAction.On, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Authentication, e.Kind);
        Assert.Contains("rejected the password for user 'admin'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", e.Message, StringComparison.Ordinal);
        Assert.Equal("Chassis Power is off", _bmc.IpmiTool(3, IpmiSimBmc.Password, "chassis", "power", "status"));
    }

    [Fact]
    public async Task Corrected_credential_takes_effect_at_the_next_call()
    {
        using var driver = new IpmiPowerDriver(_credentials);
        var target = Target("rotating");
        _credentials.Set("rotating", "old-password");
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(target, PowerAction.Status, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Authentication, e.Kind);
        _credentials.Set("rotating", IpmiSimBmc.Password);
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(target, PowerAction.Status, CancellationToken.None));
    }

    [Fact]
    public async Task Suite_17_is_refused_by_ipmi_sim_with_a_clear_error_as_ipmitool_reports()
    {
        using var driver = new IpmiPowerDriver(_credentials, new IpmiOptions { CipherSuite = 17 });
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(Target(), PowerAction.Status, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Refused, e.Kind);
        Assert.Contains("invalid authentication algorithm", e.Message, StringComparison.Ordinal);
        Assert.Contains("invalid authentication algorithm", _bmc.IpmiTool(17, IpmiSimBmc.Password, "chassis", "power", "status"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bmc_that_stops_answering_times_out_after_the_packet_retries()
    {
        using var driver = new IpmiPowerDriver(_credentials, new IpmiOptions { PacketTimeout = TimeSpan.FromMilliseconds(200), PacketRetries = 2 });
        var ct = CancellationToken.None;
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target(), PowerAction.Status, ct));
        _bmc.Stop();
        var started = DateTime.UtcNow;
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(Target(), PowerAction.Status, ct));
        Assert.Equal(PowerErrorKind.Timeout, e.Kind);
        Assert.Contains("did not answer (3 tries, 0.2 s each)", e.Message, StringComparison.Ordinal);

        // The reused session failed, one fresh session was tried: two rounds of three 0.2 s tries.
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(1.1), TimeSpan.FromSeconds(5));
    }
}
