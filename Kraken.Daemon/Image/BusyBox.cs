// The image's shell and tools: Debian's statically linked busybox and the applet links /init and an operator use.
using System.Text.RegularExpressions;

namespace Kraken.Daemon.Image;

/// <summary>A static busybox on the build machine.</summary>
/// <param name="Path">The binary (<c>/bin/busybox</c> from busybox-static).</param>
/// <param name="Version">Its version line (<c>BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)</c>).</param>
/// <param name="Applets">The applet links to make: archive path (<c>sbin/ip</c>) of each.</param>
internal sealed record BusyBoxInfo(string Path, string Version, IReadOnlyList<string> Applets);

internal static partial class BusyBox
{
    /// <summary>
    /// The applets linked into the image: what /init runs, and what an operator on the console needs to look
    /// around (files, processes, network, modules, kernel log) and to fetch or edit something. The binary has
    /// them all; only these get a name.
    /// </summary>
    private static readonly HashSet<string> s_applets = new(StringComparer.Ordinal)
    {
        // /init
        "sh", "ash", "mount", "umount", "insmod", "ip", "cat", "echo", "sleep", "poweroff", "reboot", "halt", "setsid",
        "cttyhack", "ls", "tr", "cut",
        // looking around
        "dmesg", "ps", "top", "free", "uptime", "df", "du", "lsmod", "rmmod", "uname", "hostname", "date", "id", "env",
        "mountpoint", "stat", "readlink", "realpath", "find", "grep", "sed", "awk", "head", "tail", "wc", "sort", "uniq",
        "less", "more", "hexdump", "od", "sysctl", "watch", "which", "pwd", "basename", "dirname", "printf", "test", "[", "[[",
        "true", "false", "seq", "expr", "tee", "xargs", "md5sum", "sha256sum", "clear", "reset", "stty",
        // changing things
        "kill", "mkdir", "rmdir", "rm", "cp", "mv", "ln", "touch", "chmod", "chown", "mknod", "sync", "vi", "tar", "gunzip",
        "zcat", "timeout", "nohup", "chroot",
        // network
        "ifconfig", "route", "ping", "arp", "arping", "netstat", "nc", "wget", "tftp", "udhcpc", "nslookup", "traceroute",
    };

    /// <summary>Finds busybox-static; a dynamically linked busybox (Debian's plain busybox) is refused.</summary>
    public static BusyBoxInfo Find()
    {
        var path = new[] { "/bin/busybox", "/usr/bin/busybox" }.FirstOrDefault(File.Exists)
            ?? throw new ImageBuildException("busybox not found (Debian package busybox-static)");
        var elf = ElfFile.Read(path);
        if (elf.Interpreter is not null || elf.IsDynamic)
        {
            throw new ImageBuildException($"{path} is dynamically linked; the image needs busybox-static (apt-get install busybox-static)");
        }

        var (_, banner) = Tool.Run(path, []);
        var version = VersionLine().Match(banner) is { Success: true } m ? m.Value.Trim() : "BusyBox (unknown version)";
        var list = Tool.Check(path, ["--list-full"]);
        var applets = list.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(p => s_applets.Contains(System.IO.Path.GetFileName(p)) && p != "bin/busybox")
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var needed in new[] { "sh", "mount", "insmod", "ip", "sleep", "poweroff", "cat" })
        {
            if (!applets.Any(a => System.IO.Path.GetFileName(a) == needed))
            {
                throw new ImageBuildException($"{path} has no '{needed}' applet, which /init needs");
            }
        }

        return new BusyBoxInfo(path, version, applets);
    }

    [GeneratedRegex(@"^BusyBox v[^\n]*?\)", RegexOptions.Multiline)]
    private static partial Regex VersionLine();
}
