// A stand-in boot image for lab tests until the real one exists: Debian's kernel and a busybox initramfs whose /init
// prints a marker with its kraken.* kernel arguments on the serial console and then sleeps.
using Kraken.Daemon.Tests.Pxe;

namespace Kraken.Daemon.Tests.Lab;

internal static class StandInImage
{
    public const string Marker = "KRAKEN-LAB-STANDIN";

    /// <summary>Writes <c>vmlinuz</c> and <c>initrd.img</c> into <paramref name="directory"/> (created).</summary>
    public static string Build(string directory)
    {
        Directory.CreateDirectory(directory);
        var work = Directory.CreateTempSubdirectory("kraken-lab-initramfs-").FullName;
        try
        {
            var busybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("busybox-static is not installed");
            var root = Path.Combine(work, "root");
            foreach (var d in new[] { "bin", "proc", "dev", "sys" })
            {
                Directory.CreateDirectory(Path.Combine(root, d));
            }

            File.Copy(busybox, Path.Combine(root, "bin", "busybox"));
            File.WriteAllText(Path.Combine(root, "init"), $$"""
                #!/bin/busybox sh
                /bin/busybox mount -t proc proc /proc
                /bin/busybox mount -t devtmpfs devtmpfs /dev
                args=""
                for a in $(/bin/busybox cat /proc/cmdline); do
                  case "$a" in kraken.*) args="$args $a" ;; esac
                done
                echo "{{Marker}}$args" > /dev/ttyS0
                while true; do /bin/busybox sleep 3600; done
                """.Replace("\r", "", StringComparison.Ordinal) + "\n");
            Command.Check("chmod", "755", Path.Combine(root, "init"));
            Command.Check("mknod", "-m", "600", Path.Combine(root, "dev", "console"), "c", "5", "1");
            Command.Check("sh", "-c", $"cd '{root}' && find . | cpio -o -H newc --quiet | gzip -1 > '{Path.Combine(directory, "initrd.img")}'");

            // A copy, not a link: HTTP boot refuses paths that resolve outside its root.
            File.Copy(BootImages.Kernel(), Path.Combine(directory, "vmlinuz"), overwrite: true);
            return directory;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
