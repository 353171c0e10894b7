// The engine powering nodes through the Redfish and qemu drivers on real time: Cfg in, the device follows.
using Kraken.Modules.Power;
using Kraken.Modules.Power.Qemu;
using Kraken.Modules.Power.Redfish;
using Kraken.Modules.Tests.Power;
using Kraken.Modules.Tests.Redfish;

namespace Kraken.Modules.Tests.Interop;

[Trait("Category", "Interop")]
public sealed class EngineDriverTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kraken-edt-{Environment.ProcessId}-{Guid.NewGuid():N}"[..36]);
    private readonly RedfishTestService _redfish = new("1");
    private readonly RedfishPowerDriver _redfishDriver;
    private readonly QemuPowerDriver _qemuDriver;
    private readonly RealTimeEngine _e;

    public EngineDriverTests()
    {
        Directory.CreateDirectory(_dir);
        _redfishDriver = new RedfishPowerDriver(new InMemoryCredentialProvider().Set("rf", RedfishTestService.Password));
        _qemuDriver = new QemuPowerDriver(new QemuOptions { CommandTemplate = QemuOptions.DefaultTemplate + $" -pidfile {_dir}/{{system}}.pid" });
        _e = new RealTimeEngine([_redfishDriver, _qemuDriver], new PowerOptions { CallTimeout = TimeSpan.FromSeconds(20), PollInterval = TimeSpan.Zero });
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _e.DisposeAsync();
        _redfishDriver.Dispose();
        await _redfish.DisposeAsync();

        // A VM left running by a failed test: kill it by its recorded PID.
        foreach (var pidFile in Directory.GetFiles(_dir, "*.pid"))
        {
            if (int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && File.Exists($"/proc/{pid}/cmdline"))
            {
                using var p = System.Diagnostics.Process.GetProcessById(pid);
                p.Kill();
                p.WaitForExit(5_000);
            }
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Engine_powers_a_redfish_node_on_and_off()
    {
        var n = _e.AddNode("rf1", [("Driver", "redfish"), ("Address", _redfish.BaseUrl), ("User", RedfishTestService.User), ("Credential", "rf")], "POWER_ON");
        Assert.True(await _e.ReachesAsync(n, "POWER_ON"), $"Dsc is {_e.Phys(n)}");
        Assert.Equal("On", _redfish.PowerStates["1"]);
        _e.SetCfg(n, "POWER_OFF");
        Assert.True(await _e.ReachesAsync(n, "POWER_OFF"), $"Dsc is {_e.Phys(n)}");
        Assert.Equal("Off", _redfish.PowerStates["1"]);
    }

    [Fact]
    public async Task Engine_starts_and_stops_a_qemu_vm()
    {
        var socket = Path.Combine(_dir, "vm1.qmp");
        var n = _e.AddNode("vm1", [("Driver", "qemu"), ("Address", socket)], "POWER_ON");
        Assert.True(await _e.ReachesAsync(n, "POWER_ON"), $"Dsc is {_e.Phys(n)}");
        Assert.Equal(PowerStatus.On, await _qemuDriver.ExecuteAsync(new PowerTarget(n, "qemu", socket), PowerAction.Status, CancellationToken.None));
        var pid = File.ReadAllText(Path.Combine(_dir, "vm1.pid")).Trim();
        Assert.True(File.Exists($"/proc/{pid}/cmdline"));
        _e.SetCfg(n, "POWER_OFF");
        Assert.True(await _e.ReachesAsync(n, "POWER_OFF"), $"Dsc is {_e.Phys(n)}");
        Assert.True(await PowerNodes.Eventually(() => !File.Exists($"/proc/{pid}/cmdline"), TimeSpan.FromSeconds(20)), $"qemu {pid} still runs");
    }
}
