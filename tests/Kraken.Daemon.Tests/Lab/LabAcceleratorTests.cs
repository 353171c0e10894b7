// The KVM probe: its tiny guest must really run (under TCG here) and a failing accelerator must read as "no".
using System.Runtime.Versioning;
using Kraken.Daemon.Lab;

namespace Kraken.Daemon.Tests.Lab;

[Trait("Category", "Interop")]
[SupportedOSPlatform("linux")]
public sealed class LabAcceleratorTests
{
    private static string Qemu => LabSystem.Which("qemu-system-x86_64") ?? throw new InvalidOperationException("qemu-system-x86_64 is not installed");

    [Fact]
    public void The_probe_guest_reaches_its_exit_port_under_tcg()
    {
        var (works, detail) = LabAccelerator.Probe(Qemu, "tcg");
        Assert.True(works, detail);
    }

    [Fact]
    public void An_accelerator_qemu_cannot_use_is_not_chosen()
    {
        var (works, detail) = LabAccelerator.Probe(Qemu, "no-such-accel");
        Assert.False(works);
        Assert.Contains("qemu exited with 1", detail, StringComparison.Ordinal);

        // KVM is chosen only when its probe guest ran; wherever /dev/kvm is missing the answer is TCG.
        var (accel, why) = LabAccelerator.Choose(Qemu);
        Assert.Equal(LabAccelerator.Probe(Qemu, "kvm").Works && File.Exists("/dev/kvm") ? "kvm" : "tcg", accel);
        Assert.False(string.IsNullOrWhiteSpace(why));
    }
}
