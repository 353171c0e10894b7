// What each VM's BMC runs from: ipmi_sim's lan.conf and emulator commands, and the start command (a script that
// execs the VM's qemu) ipmi_sim runs on "chassis power on" and stops with SIGTERM on "power off".
using System.Globalization;
using System.Text;

namespace Kraken.Daemon.Lab;

internal static class LabBmcFiles
{
    /// <summary>
    /// Debian's iPXE ROM for virtio-net (package ipxe-qemu), the device's default ROM. It is checked for, not named on
    /// the command line: with an explicit <c>romfile=</c> (even this very file) SeaBIOS of qemu 7.2 skips the NIC on
    /// <c>-boot n</c>.
    /// </summary>
    public const string IpxeRom = "/usr/lib/ipxe/qemu/efi-virtio.rom";

    /// <summary>
    /// ipmi_sim's configuration: a LAN channel on the BMC address, the administrator <c>admin</c>, the VM serial
    /// interface on 127.0.0.1 (without it power commands fail with "Invalid data field") and the start command.
    /// Power state is "the start command's process is alive".
    /// </summary>
    public static string LanConf(LabPlan plan, LabPaths paths, LabNode node, string password)
    {
        if (password.Any(c => c is '"' or '\\' or '\n' or ' '))
        {
            throw new ArgumentException("The BMC password must not contain quotes, backslashes or blanks.", nameof(password));
        }

        var guid = node.Id.Replace("-", string.Empty, StringComparison.Ordinal);
        return string.Create(CultureInfo.InvariantCulture, $"""
            # BMC of {node.Name} in lab {plan.Name}, made by kraken lab up.
            name "{plan.Name}-{node.Name}"
            set_working_mc 0x20
              startlan 1
                addr {node.Bmc} {LabPlan.BmcPort}
                priv_limit admin
                allowed_auths_callback md5 straight
                allowed_auths_user md5 straight
                allowed_auths_operator md5 straight
                allowed_auths_admin md5 straight
                guid {guid}
              endlan
              serial 15 127.0.0.1 {node.SerialPort} codec VM
              startcmd "{paths.VmScript(node.Name)}"
              kill_wait 5
              user 2 true "{LabPlan.BmcUser}" "{password}" admin 10 md5 straight

            """);
    }

    /// <summary>The emulator commands: one management controller, the BMC at 0x20.</summary>
    public const string SimEmu = """
        mc_setbmc 0x20
        mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
        mc_enable 0x20

        """;

    /// <summary>
    /// The VM's start command. It records its own PID (the one qemu keeps, since it execs) before anything else,
    /// then execs qemu: tier-1 VMs get their uplink NIC first (the boot NIC, with the iPXE ROM) and the downlink
    /// second (no ROM: only the uplink boots); leaves get one NIC.
    /// </summary>
    public static string VmScript(LabPlan plan, LabPaths paths, LabNode node, string qemu, string accel)
    {
        var args = new List<string>
        {
            qemu, "-name", node.Name, "-accel", accel, "-machine", "pc", "-m", node.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-smp", "1", "-nographic", "-monitor", "none",
            "-chardev", $"file,id=serial0,path={QemuOption(paths.VmSerial(node.Name))},append=on", "-serial", "chardev:serial0",
            "-boot", "n", "-no-reboot", "-pidfile", paths.VmPidFile(node.Name),
            "-netdev", $"tap,id=up,ifname={node.Uplink.Link},script=no,downscript=no",
            "-device", $"virtio-net-pci,netdev=up,mac={node.Uplink.Mac}",

            // Entropy from the host: the daemon's start waits for the kernel's random pool, seconds longer without it.
            "-device", "virtio-rng-pci",
        };
        if (node.Downlink is { } down)
        {
            args.AddRange(["-netdev", $"tap,id=down,ifname={down.Link},script=no,downscript=no",
                "-device", $"virtio-net-pci,netdev=down,mac={down.Mac},romfile="]);
        }

        var sb = new StringBuilder();
        sb.Append("#!/bin/sh\n");
        sb.Append(CultureInfo.InvariantCulture, $"# {node.Name} of lab {plan.Name}: run by its ipmi_sim on power on; exec keeps the PID, so power off (SIGTERM) reaches qemu.\n");
        sb.Append(CultureInfo.InvariantCulture, $"echo $$ > {Quote(paths.VmStartPidFile(node.Name))}\n");
        sb.Append("exec");
        foreach (var a in args)
        {
            sb.Append(" \\\n  ").Append(Quote(a));
        }

        sb.Append(CultureInfo.InvariantCulture, $" \\\n  </dev/null >>{Quote(paths.VmLog(node.Name))} 2>&1\n");
        return sb.ToString();
    }

    /// <summary>A single-quoted shell word.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>A value inside a qemu option list, where a comma is written as two.</summary>
    private static string QemuOption(string s) => s.Replace(",", ",,", StringComparison.Ordinal);
}
