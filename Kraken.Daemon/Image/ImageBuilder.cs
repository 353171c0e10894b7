// "kraken image build": assembles the boot image (Debian kernel, initramfs with busybox, modules, kraken and its libraries) and its manifest.
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Kraken.Daemon.Image;

/// <summary>What to build and where.</summary>
/// <param name="Output">The directory that receives vmlinuz, initrd.img and image.json.</param>
/// <param name="Cache">Downloads, the unpacked kernel and kraken publishes, kept between builds.</param>
/// <param name="KernelPackage">A linux-image package name; null takes the highest plain amd64 one apt knows.</param>
/// <param name="Kraken">A kraken executable to put in; null: this program if native, else a publish of the source tree.</param>
public sealed record ImageBuildOptions(string Output, string Cache, string? KernelPackage = null, string? Kraken = null);

/// <summary>What a build wrote.</summary>
public sealed record ImageBuildResult(
    string Vmlinuz,
    long VmlinuzBytes,
    string Initrd,
    long InitrdBytes,
    long ArchiveBytes,
    string Manifest,
    string KrakenKind,
    string KernelPackage,
    IReadOnlyList<string> Modules,
    TimeSpan Elapsed);

public static class ImageBuilder
{
    public const string DefaultCache = "/var/cache/kraken/image";

    /// <summary>Where kraken and the native libraries published beside it live in the image.</summary>
    public const string KrakenDirectory = "/usr/lib/kraken";

    /// <summary>
    /// Builds the image; progress and sizes go to <paramref name="log"/>. Throws <see cref="ImageBuildException"/>
    /// naming what is missing (a tool, a package, a module) before anything is written to the output directory.
    /// </summary>
    public static ImageBuildResult Build(ImageBuildOptions options, TextWriter log, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        time ??= TimeProvider.System;
        var clock = Stopwatch.StartNew();
        var output = Path.GetFullPath(options.Output);
        var cache = Path.GetFullPath(options.Cache);
        CreateDirectory(cache, "--cache");

        // The quick checks first: a missing busybox should not cost a kernel download or a publish.
        var busybox = BusyBox.Find();
        var kernel = KernelPackage.Fetch(cache, options.KernelPackage, log);
        log.WriteLine($"kernel: {kernel.Package} {kernel.Version} (release {kernel.Release}), vmlinuz {MiB(new FileInfo(kernel.Vmlinuz).Length)}");
        var modules = KernelModules.Resolve(kernel.ModulesDirectory, KernelModules.Default, Path.Combine(cache, "modules", kernel.Release));
        log.WriteLine($"modules: {string.Join(' ', modules.Select(m => m.Name))} ({modules.Count}, {MiB(modules.Sum(m => new FileInfo(m.Source).Length))})");
        log.WriteLine($"busybox: {busybox.Version}, {busybox.Applets.Count} applets");
        var kraken = KrakenBinary.Locate(options.Kraken, cache, log);
        log.WriteLine($"kraken: {kraken.Kind} from {kraken.Origin}: {kraken.Binary} ({MiB(new FileInfo(kraken.Binary).Length)}), {kraken.Version}");

        var tree = new ImageTree();
        AddSkeleton(tree);
        tree.AddFile("/init", Encoding.UTF8.GetBytes(InitScript.Render(kernel.Release, modules)), 0x1ED, "init");
        tree.AddHostFile("/bin/busybox", busybox.Path, "busybox");
        foreach (var applet in busybox.Applets)
        {
            tree.AddSymlink("/" + applet, "/bin/busybox");
        }

        foreach (var m in modules)
        {
            tree.AddHostFile($"/lib/modules/{kernel.Release}/{m.RelativePath}", m.Source, "modules");
        }

        tree.AddHostFile($"{KrakenDirectory}/kraken", kraken.Binary, "kraken");
        foreach (var companion in kraken.Companions)
        {
            tree.AddHostFile($"{KrakenDirectory}/{Path.GetFileName(companion)}", companion, "kraken");
        }

        tree.AddSymlink("/bin/kraken", $"{KrakenDirectory}/kraken");
        var libraries = SharedLibraries.Closure([kraken.Binary, .. kraken.Companions], SharedLibraries.DotnetDlopen);
        foreach (var library in libraries)
        {
            tree.CopyFromHost(library, "libraries");
        }

        var sizes = tree.SizeByCategory;
        log.WriteLine($"libraries: {string.Join(' ', libraries)} ({MiB(sizes.GetValueOrDefault("libraries"))})");

        CreateDirectory(output, "--dir");
        var initrd = Path.Combine(output, "initrd.img");
        var vmlinuz = Path.Combine(output, "vmlinuz");
        var now = time.GetUtcNow();
        var mtime = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH") is { } epoch && long.TryParse(epoch, CultureInfo.InvariantCulture, out var e) && e >= 0
            ? e
            : now.ToUnixTimeSeconds();
        long archive;
        using (var file = File.Create(initrd + ".partial"))
        {
            archive = tree.WriteCpioGzip(file, mtime);
        }

        File.Move(initrd + ".partial", initrd, overwrite: true);
        File.Copy(kernel.Vmlinuz, vmlinuz + ".partial", overwrite: true);
        File.Move(vmlinuz + ".partial", vmlinuz, overwrite: true);
        var initrdBytes = new FileInfo(initrd).Length;
        var vmlinuzBytes = new FileInfo(vmlinuz).Length;
        log.WriteLine($"initrd: {tree.Count} entries, {MiB(archive)} as cpio, {MiB(initrdBytes)} gzip'd; content: "
            + string.Join(", ", sizes.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {MiB(kv.Value)}")));

        var manifest = Path.Combine(output, "image.json");
        File.WriteAllBytes(manifest, Manifest(now, kernel, modules, busybox, kraken, sizes, (vmlinuz, vmlinuzBytes), (initrd, initrdBytes, archive)));
        log.WriteLine($"manifest: {manifest}");
        log.WriteLine($"built in {clock.Elapsed.TotalSeconds:F1} s");
        return new ImageBuildResult(vmlinuz, vmlinuzBytes, initrd, initrdBytes, archive, manifest, kraken.Kind, kernel.Package, [.. modules.Select(m => m.Name)], clock.Elapsed);
    }

    /// <summary>The last line of the build's report: <c>image: DIR/vmlinuz (X MiB), DIR/initrd.img (Y MiB), kraken aot</c>.</summary>
    public static string Summary(ImageBuildResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return $"image: {result.Vmlinuz} ({MiB(result.VmlinuzBytes)}), {result.Initrd} ({MiB(result.InitrdBytes)}), kraken {result.KrakenKind}";
    }

    /// <summary>The directories and small files every image has.</summary>
    private static void AddSkeleton(ImageTree tree)
    {
        foreach (var d in new[] { "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/etc/kraken", "/var/lib/kraken", "/run", "/proc", "/sys", "/dev", "/root" })
        {
            tree.AddDirectory(d);
        }

        tree.AddDirectory("/tmp", 0x3FF);                // 1777
        tree.AddCharDevice("/dev/console", 5, 1, 0x180);  // the kernel opens it for /init before devtmpfs is mounted
        tree.AddFile("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"u8.ToArray(), 0x1A4, "etc");
        tree.AddFile("/etc/group", "root:x:0:\n"u8.ToArray(), 0x1A4, "etc");
        tree.AddFile("/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"u8.ToArray(), 0x1A4, "etc");
    }

    private static byte[] Manifest(
        DateTimeOffset built,
        KernelInfo kernel,
        IReadOnlyList<KernelModule> modules,
        BusyBoxInfo busybox,
        KrakenBuild kraken,
        IReadOnlyDictionary<string, long> sizes,
        (string Path, long Bytes) vmlinuz,
        (string Path, long Bytes, long Archive) initrd)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", "kraken-image/1");
            w.WriteString("built", built.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            w.WriteStartObject("kernel");
            w.WriteString("package", kernel.Package);
            w.WriteString("version", kernel.Version);
            w.WriteString("release", kernel.Release);
            w.WriteEndObject();
            w.WriteStartObject("kraken");
            w.WriteString("kind", kraken.Kind);
            w.WriteString("version", kraken.Version);
            w.WriteNumber("size", new FileInfo(kraken.Binary).Length);
            w.WriteEndObject();
            w.WriteString("busybox", busybox.Version);
            w.WriteStartArray("modules");
            foreach (var m in modules)
            {
                w.WriteStringValue(m.Name);
            }

            w.WriteEndArray();
            w.WriteStartObject("files");
            w.WriteStartObject("vmlinuz");
            w.WriteNumber("size", vmlinuz.Bytes);
            w.WriteString("sha256", Sha256(vmlinuz.Path));
            w.WriteEndObject();
            w.WriteStartObject("initrd.img");
            w.WriteNumber("size", initrd.Bytes);
            w.WriteString("sha256", Sha256(initrd.Path));
            w.WriteNumber("cpioSize", initrd.Archive);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject("content");
            foreach (var (category, bytes) in sizes.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WriteNumber(category, bytes);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    private static void CreateDirectory(string path, string option)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ImageBuildException($"{option} {path}: cannot create the directory: {ex.Message}");
        }
    }

    internal static string MiB(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MiB");
}
