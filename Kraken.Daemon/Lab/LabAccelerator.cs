// Chooses KVM or TCG for the lab's VMs: KVM only when /dev/kvm opens and a tiny guest really runs under it.
using System.Diagnostics;
using System.Runtime.Versioning;

namespace Kraken.Daemon.Lab;

[SupportedOSPlatform("linux")]
internal static class LabAccelerator
{
    /// <summary>The guest's exit status through isa-debug-exit: (1 &lt;&lt; 1) | 1.</summary>
    private const int ProbeExitCode = 3;

    /// <summary>
    /// <c>kvm</c> or <c>tcg</c>, and why. /dev/kvm can exist and open while KVM still fails when the guest runs
    /// ("KVM internal error" on hosts without vmx/svm), so the probe boots a 64 KiB firmware whose reset vector
    /// writes 1 to an isa-debug-exit port: qemu exits with 3 only if guest code ran.
    /// </summary>
    public static (string Accel, string Reason) Choose(string qemu)
    {
        try
        {
            using var kvm = new FileStream("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ("tcg", $"/dev/kvm does not open: {e.Message}");
        }

        var (works, detail) = Probe(qemu, "kvm");
        return works ? ("kvm", "a probe guest ran under KVM") : ("tcg", $"a probe guest did not run under KVM: {detail}");
    }

    /// <summary>Runs the probe guest under <paramref name="accel"/>; true if it ran to its exit port.</summary>
    public static (bool Works, string Detail) Probe(string qemu, string accel)
    {
        var firmware = Path.Combine(Path.GetTempPath(), $"kraken-lab-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(firmware, Firmware());
            var psi = new ProcessStartInfo(qemu) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            foreach (var a in (string[])["-accel", accel, "-machine", "pc", "-m", "16", "-nodefaults", "-display", "none", "-no-reboot",
                "-monitor", "none", "-serial", "none", "-bios", firmware, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi);
            if (p is null)
            {
                return (false, "qemu did not start");
            }

            p.StandardInput.Close();
            var error = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                // A KVM internal error stops the guest but not qemu: no exit within the time means it did not run.
                p.Kill(); // the probe this call started, by its PID
                p.WaitForExit();
                return (false, "the guest did not reach its exit port within 10 s " + FirstLine(error.Result));
            }

            return p.ExitCode == ProbeExitCode ? (true, "ok") : (false, $"qemu exited with {p.ExitCode}: {FirstLine(error.Result)}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (false, e.Message);
        }
        finally
        {
            File.Delete(firmware);
        }
    }

    /// <summary>64 KiB of hlt; at the reset vector (16 bytes from the end): mov al, 1; out 0xf4, al; then hlt forever.</summary>
    private static byte[] Firmware()
    {
        var image = new byte[64 * 1024];
        Array.Fill(image, (byte)0xf4);
        byte[] code = [0xb0, 0x01, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd];
        code.CopyTo(image, image.Length - 16);
        return image;
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? string.Empty;
}
