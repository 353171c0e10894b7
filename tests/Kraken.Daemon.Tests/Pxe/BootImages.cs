// A Debian kernel and a busybox initramfs for network-boot tests, cached between runs.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Kraken.Daemon.Tests.Pxe;

/// <summary>
/// The kernel comes from Debian's linux-image package (downloaded once with <c>apt-get download</c> into the
/// cache directory, unpacked with <c>dpkg -x</c>, never installed); the initramfs is busybox-static with an
/// <c>/init</c> that prints <c>KRAKEN-BOOT-OK &lt;kraken.name&gt;</c> on the serial console and powers off.
/// The cache is <c>/var/cache/kraken-test</c> (or <c>KRAKEN_TEST_CACHE</c>).
/// </summary>
internal static partial class BootImages
{
    public const string Marker = "KRAKEN-BOOT-OK";

    private static readonly Lock s_lock = new();

    public static string CacheDirectory => Environment.GetEnvironmentVariable("KRAKEN_TEST_CACHE") is { Length: > 0 } d ? d : "/var/cache/kraken-test";

    /// <summary>The path of an unpacked Debian amd64 kernel (bzImage), downloading the package on first use.</summary>
    public static string Kernel()
    {
        lock (s_lock)
        {
            Directory.CreateDirectory(CacheDirectory);
            var deb = Directory.GetFiles(CacheDirectory, "linux-image-*-amd64_*_amd64.deb").Order(StringComparer.Ordinal).LastOrDefault()
                ?? Download();
            var unpacked = Path.Combine(CacheDirectory, Path.GetFileNameWithoutExtension(deb));
            var kernel = Directory.Exists(Path.Combine(unpacked, "boot")) ? Directory.GetFiles(Path.Combine(unpacked, "boot"), "vmlinuz-*").FirstOrDefault() : null;
            if (kernel is null)
            {
                var partial = unpacked + ".partial";
                if (Directory.Exists(partial))
                {
                    Directory.Delete(partial, recursive: true);
                }

                Command.Check("dpkg", "-x", deb, partial);
                Directory.Move(partial, unpacked);
                kernel = Directory.GetFiles(Path.Combine(unpacked, "boot"), "vmlinuz-*").Single();
            }

            return kernel;
        }
    }

    /// <summary>Builds the busybox initramfs (newc cpio, gzip) at <paramref name="path"/>.</summary>
    public static void Initramfs(string path, string workDirectory)
    {
        var busybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("busybox-static is not installed");
        var root = Path.Combine(workDirectory, "initramfs");
        foreach (var d in new[] { "bin", "proc", "dev", "sys" })
        {
            Directory.CreateDirectory(Path.Combine(root, d));
        }

        File.Copy(busybox, Path.Combine(root, "bin", "busybox"), overwrite: true);
        File.WriteAllText(Path.Combine(root, "init"), $$"""
            #!/bin/busybox sh
            /bin/busybox mount -t proc proc /proc
            /bin/busybox mount -t devtmpfs devtmpfs /dev
            name=unknown
            for a in $(/bin/busybox cat /proc/cmdline); do
              case "$a" in kraken.name=*) name="${a#kraken.name=}" ;; esac
            done
            echo "{{Marker}} $name" > /dev/ttyS0
            /bin/busybox sync
            /bin/busybox poweroff -f
            """.Replace("\r", "", StringComparison.Ordinal) + "\n");
        Command.Check("chmod", "755", Path.Combine(root, "init"));
        Command.Check("mknod", "-m", "600", Path.Combine(root, "dev", "console"), "c", "5", "1");
        Command.Check("sh", "-c", $"cd '{root}' && find . | cpio -o -H newc --quiet | gzip -1 > '{path}'");
    }

    private static string Download()
    {
        var candidates = Candidates();
        if (candidates.Count == 0)
        {
            // A machine that has never read the package lists finds nothing: read them once.
            Command.Check("apt-get", "update", "-qq");
            candidates = Candidates();
        }

        var name = candidates.Count > 0 ? candidates[^1].Name : throw new InvalidOperationException("apt-cache finds no linux-image-<version>-amd64 package");
        var (exit, output) = Command.Run("apt-get", ["download", name], TimeSpan.FromMinutes(10), CacheDirectory);
        if (exit != 0)
        {
            throw new InvalidOperationException($"apt-get download {name} failed: {output}");
        }

        return Directory.GetFiles(CacheDirectory, $"{name}_*_amd64.deb").Single();
    }

    /// <summary>Packages linux-image-X.Y.Z-N-amd64 (the plain flavour), oldest first.</summary>
    private static List<(Version Version, string Name)> Candidates()
    {
        var (_, output) = Command.Run("apt-cache", ["search", "--names-only", "^linux-image-[0-9].*-amd64$"]);
        return [.. output.Split('\n')
            .Select(l => KernelPackage().Match(l))
            .Where(m => m.Success)
            .Select(m => (new Version(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)), m.Groups[0].Value.Trim()))
            .OrderBy(c => c.Item1)];
    }

    [GeneratedRegex(@"^linux-image-(\d+)\.(\d+)\.(\d+)-(\d+)-amd64(?= )")]
    private static partial Regex KernelPackage();
}
