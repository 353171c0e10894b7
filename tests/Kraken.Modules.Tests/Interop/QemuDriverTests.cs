// The qemu driver starts and stops a real qemu process (a VM with no disk) and reads its state over QMP.
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Qemu;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Interop;

[Trait("Category", "Interop")]
public sealed class QemuDriverTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kraken-qemu-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);

    public QemuDriverTests() => Directory.CreateDirectory(_dir);

    private string PidFile => Path.Combine(_dir, "vm.pid");

    private PowerTarget Target => new(NodeId.FromName("vm1"), "qemu", Path.Combine(_dir, "vm1.qmp")) { Nodename = "vm1" };

    private QemuPowerDriver Driver() => new(new QemuOptions { CommandTemplate = QemuOptions.DefaultTemplate + $" -pidfile {PidFile}" });

    public void Dispose()
    {
        // Kill by the recorded PID only, in case a test failed with the VM still running.
        if (File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile).Trim(), out var pid) && File.Exists($"/proc/{pid}/cmdline")
            && File.ReadAllText($"/proc/{pid}/cmdline").Contains(_dir, StringComparison.Ordinal))
        {
            using var p = Process.GetProcessById(pid);
            p.Kill();
            p.WaitForExit(5_000);
        }

        Directory.Delete(_dir, recursive: true);
    }

    private bool VmProcessAlive() => File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile).Trim(), out var pid) && File.Exists($"/proc/{pid}/cmdline");

    [Fact]
    public async Task Driver_starts_resets_and_stops_a_real_vm()
    {
        var driver = Driver();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target, PowerAction.Status, cts.Token));

        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target, PowerAction.On, cts.Token));
        Assert.True(VmProcessAlive());
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target, PowerAction.Status, cts.Token));
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target, PowerAction.On, cts.Token));
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target, PowerAction.Reset, cts.Token));

        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target, PowerAction.Off, cts.Token));
        Assert.False(VmProcessAlive());
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target, PowerAction.Status, cts.Token));
    }

    [Fact]
    public void Command_template_is_filled_per_node()
    {
        var driver = new QemuPowerDriver(new QemuOptions
        {
            CommandTemplate = "qemu -name {system} -qmp unix:{qmp} \"-append x y\"",
            Templates = new Dictionary<string, string> { ["special"] = "other {nodename}" },
        });
        Assert.Equal(["qemu", "-name", "vm1", "-qmp", $"unix:{Target.Address}", "-append x y"], driver.CommandFor(Target));
        Assert.Equal(["other", "special"], driver.CommandFor(Target with { Nodename = "special" }));
        Assert.Throws<ArgumentException>(() => new QemuPowerDriver(new QemuOptions { CommandTemplate = "qemu \"open" }));
    }

    [Fact]
    public async Task Command_that_cannot_run_or_exits_early_is_a_clear_error()
    {
        var missing = new QemuPowerDriver(new QemuOptions { CommandTemplate = "/nonexistent/qemu {qmp}" });
        var e = await Assert.ThrowsAsync<PowerException>(async () => await missing.ExecuteAsync(Target, PowerAction.On, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Configuration, e.Kind);
        Assert.Contains("cannot run '/nonexistent/qemu'", e.Message, StringComparison.Ordinal);

        var failing = new QemuPowerDriver(new QemuOptions { CommandTemplate = "qemu-system-x86_64 -machine no-such-machine -qmp unix:{qmp},server=on,wait=off" });
        e = await Assert.ThrowsAsync<PowerException>(async () => await failing.ExecuteAsync(Target, PowerAction.On, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Refused, e.Kind);
        Assert.Contains("exited with 1 before QMP answered", e.Message, StringComparison.Ordinal);
        Assert.Contains("unsupported machine type", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Garbage_on_the_qmp_socket_is_a_protocol_error()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(Target.Address));
        listener.Listen();
        var server = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            await peer.SendAsync(Encoding.UTF8.GetBytes("this is not QMP\n"));
            await Task.Delay(500);
        });
        var e = await Assert.ThrowsAsync<PowerException>(async () => await Driver().ExecuteAsync(Target, PowerAction.Status, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Protocol, e.Kind);
        Assert.Contains("is not valid JSON", e.Message, StringComparison.Ordinal);
        await server;
    }
}
