// "kraken image build" end to end: the archive read by GNU cpio, the native kraken run from the unpacked image, and a qemu VM booting it.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Tests.Pxe;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Image;

/// <summary>Builds the image once per run with the <c>kraken image build</c> verb, into a temporary directory.</summary>
public sealed class ImageFixture : IDisposable
{
    public ImageFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("kraken-image-test-").FullName;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var clock = Stopwatch.StartNew();
        ExitCode = CommandLine.RunAsync(["image", "build", "--output", Directory, "--cache", NativeKraken.Cache], stdout, stderr).GetAwaiter().GetResult();
        Elapsed = clock.Elapsed;
        Output = stdout.ToString();
        Errors = stderr.ToString();
        if (ExitCode == 0)
        {
            Manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "image.json"))).RootElement.Clone();
        }
    }

    public string Directory { get; }

    public int ExitCode { get; }

    public string Output { get; }

    public string Errors { get; }

    public TimeSpan Elapsed { get; }

    public JsonElement Manifest { get; }

    public string Vmlinuz => Path.Combine(Directory, "vmlinuz");

    public string Initrd => Path.Combine(Directory, "initrd.img");

    public string Release => Manifest.GetProperty("kernel").GetProperty("release").GetString()!;

    public IReadOnlyList<string> Modules => [.. Manifest.GetProperty("modules").EnumerateArray().Select(m => m.GetString()!)];

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>
/// The image of this source tree: built by the verb (kernel from apt, kraken published with NativeAOT or reused from
/// the test cache), listed by GNU cpio, run in a chroot of its unpacked tree, and booted in a TCG qemu VM by direct
/// kernel boot with a virtio NIC on a tap in a namespace of its own (no packet leaves it). The VM runs /init's check
/// mode (<c>kraken.init=check</c>: <c>kraken --version</c> and <c>kraken selftest crypto</c>), which proves that
/// the native binary, glibc and OpenSSL load inside the image, then powers itself off; with <c>kraken.shell=1</c> it
/// must offer a shell on the console instead.
/// </summary>
[Collection(NativeKrakenCollection.Name)]
[Trait("Category", "Network")]
[Trait("Category", "Interop")]
public sealed partial class BootImageTests(NativeKraken native, ImageFixture image, ITestOutputHelper output) : IClassFixture<ImageFixture>, IDisposable
{
    private const string VmMac = "52:54:00:18:4f:01";
    private static readonly TimeSpan s_bootTimeout = TimeSpan.FromSeconds(240);

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-image-boot-").FullName;
    private readonly List<ChildProcess> _processes = [];
    private string? _netns;

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }

        if (_netns is not null)
        {
            // Deleting the namespace removes the tap inside it.
            Command.Run("ip", ["netns", "del", _netns]);
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void The_build_writes_kernel_initrd_and_a_manifest_and_ends_with_the_summary_line()
    {
        output.WriteLine(image.Output.TrimEnd());
        output.WriteLine($"image build (verb, in-process): {image.Elapsed.TotalSeconds:F1} s");
        Assert.True(image.ExitCode == 0, image.Errors + image.Output);
        var last = image.Output.TrimEnd().Split('\n')[^1];
        Assert.Matches(SummaryLine(), last);
        Assert.EndsWith($"kraken {native.Kind}", last, StringComparison.Ordinal);
        Assert.Contains($"{image.Directory}/vmlinuz (", last, StringComparison.Ordinal);

        var files = image.Manifest.GetProperty("files");
        foreach (var (name, path) in new[] { ("vmlinuz", image.Vmlinuz), ("initrd.img", image.Initrd) })
        {
            Assert.Equal(new FileInfo(path).Length, files.GetProperty(name).GetProperty("size").GetInt64());
            using var f = File.OpenRead(path);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(f)), files.GetProperty(name).GetProperty("sha256").GetString());
        }

        Assert.Matches("^linux-image-[0-9.]+-[0-9]+-amd64$", image.Manifest.GetProperty("kernel").GetProperty("package").GetString());
        Assert.Equal(native.Kind, image.Manifest.GetProperty("kraken").GetProperty("kind").GetString());
        Assert.Subset(image.Modules.ToHashSet(), new HashSet<string> { "virtio_pci", "virtio_net", "net_failover", "failover", "virtio", "virtio_ring", "e1000", "e1000e", "virtio_rng" });
        Assert.True(image.Modules.ToList().IndexOf("net_failover") < image.Modules.ToList().IndexOf("virtio_net"));
        // gzip'd newc: the magic of gzip, then of the archive.
        using var gz = new System.IO.Compression.GZipStream(File.OpenRead(image.Initrd), System.IO.Compression.CompressionMode.Decompress);
        var magic = new byte[6];
        gz.ReadExactly(magic);
        Assert.Equal("070701"u8.ToArray(), magic);
    }

    [Fact]
    public void Gnu_cpio_lists_init_busybox_the_modules_kraken_its_libraries_and_the_skeleton()
    {
        Assert.True(image.ExitCode == 0, image.Errors);
        var (exit, listing) = Command.Run("sh", ["-c", $"gzip -dc '{image.Initrd}' | cpio -tv --quiet"]);
        Assert.True(exit == 0, listing);
        var entries = listing.Split('\n').Select(l => (Mode: l[..10], Name: ListedName().Match(l).Groups["name"].Value)).ToList();
        string Mode(string name) => entries.Where(e => e.Name == name || e.Name.StartsWith(name + " -> ", StringComparison.Ordinal)).Select(e => e.Mode).FirstOrDefault()
            ?? throw new Xunit.Sdk.XunitException($"{name} is not in the archive:\n{listing}");

        Assert.Equal("-rwxr-xr-x", Mode("init"));
        Assert.StartsWith("-rwx", Mode("bin/busybox"), StringComparison.Ordinal);
        Assert.StartsWith("-rwx", Mode("usr/lib/kraken/kraken"), StringComparison.Ordinal);
        Assert.StartsWith("-rw", Mode("usr/lib/kraken/libe_sqlite3.so"), StringComparison.Ordinal);
        Assert.Contains(entries, e => e.Name == "bin/kraken -> /usr/lib/kraken/kraken");
        foreach (var applet in new[] { "sh", "mount", "insmod", "ip", "cat", "sleep", "poweroff", "reboot", "dmesg", "ps", "ls", "setsid", "cttyhack", "udhcpc" })
        {
            Assert.Contains(entries, e => e.Name.EndsWith($"/{applet} -> /bin/busybox", StringComparison.Ordinal));
        }

        foreach (var library in new[] { "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libm.so.6", "lib/x86_64-linux-gnu/libssl.so.3", "lib/x86_64-linux-gnu/libcrypto.so.3" })
        {
            Mode(library);
        }

        foreach (var module in image.Modules)
        {
            Assert.Contains(entries, e => e.Name.StartsWith($"lib/modules/{image.Release}/kernel/", StringComparison.Ordinal)
                && Path.GetFileName(e.Name).Replace('-', '_') == module + ".ko");
        }

        Assert.Equal("crw-------", Mode("dev/console"));
        Assert.Matches(@"\b5,\s+1\b", listing.Split('\n').Single(l => l.EndsWith(" dev/console", StringComparison.Ordinal)));
        Assert.Equal("drwxrwxrwt", Mode("tmp"));
        foreach (var directory in new[] { "etc/kraken", "var/lib/kraken", "run", "proc", "sys", "dev" })
        {
            Assert.Equal('d', Mode(directory)[0]);
        }

        output.WriteLine($"{entries.Count} entries; content (bytes): {image.Manifest.GetProperty("content")}");
    }

    [Fact]
    public void The_unpacked_image_runs_its_kraken_and_its_init_parses_with_its_own_shell()
    {
        Assert.True(image.ExitCode == 0, image.Errors);
        var root = Path.Combine(_dir, "root");
        Directory.CreateDirectory(root);
        var (exit, text) = Command.Run("sh", ["-c", $"cd '{root}' && gzip -dc '{image.Initrd}' | cpio -idm --quiet --no-absolute-filenames"]);
        Assert.True(exit == 0, text);
        // What devtmpfs gives the booted image: .NET reads the kernel's random source for GUIDs.
        Command.Check("mknod", "-m", "666", Path.Combine(root, "dev", "urandom"), "c", "1", "9");
        Command.Check("mknod", "-m", "666", Path.Combine(root, "dev", "null"), "c", "1", "3");

        // Only the image's own files: its loader, glibc, OpenSSL and busybox.
        (exit, text) = Command.Run("chroot", [root, "/bin/kraken", "--version"]);
        Assert.True(exit == 0, text);
        Assert.Contains($"({native.Kind}, linux-x64", text, StringComparison.Ordinal);
        (exit, text) = Command.Run("chroot", [root, "/bin/kraken", "selftest", "crypto"]);
        Assert.True(exit == 0, text);
        Assert.Contains("selftest crypto: ok (OpenSSL ", text, StringComparison.Ordinal);
        (exit, text) = Command.Run("chroot", [root, "/bin/sh", "-n", "/init"]);
        Assert.True(exit == 0, text);
        output.WriteLine(Command.Run("chroot", [root, "/bin/kraken", "selftest", "crypto"]).Output);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_vm_boots_the_image_loads_its_nic_modules_runs_kraken_and_powers_off_or_offers_a_shell(bool shell)
    {
        Assert.True(image.ExitCode == 0, image.Errors);
        var netns = $"kimg{_suffix}";
        Command.Check("ip", "netns", "add", netns);
        _netns = netns;
        Command.Check("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up");
        Command.Check("ip", "netns", "exec", netns, "ip", "tuntap", "add", "dev", $"tap{_suffix}", "mode", "tap");
        Command.Check("ip", "netns", "exec", netns, "ip", "link", "set", $"tap{_suffix}", "up");

        var clock = Stopwatch.StartNew();
        var qemu = ChildProcess.Start("ip", ["netns", "exec", netns, "qemu-system-x86_64", "-accel", "tcg", "-machine", "pc", "-m", "512", "-smp", "1",
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", image.Vmlinuz, "-initrd", image.Initrd,
            "-append", $"console=ttyS0 quiet panic=-1 kraken.init=check kraken.shell={(shell ? 1 : 0)}",
            "-netdev", $"tap,id=n0,ifname=tap{_suffix},script=no,downscript=no", "-device", $"virtio-net-pci,netdev=n0,mac={VmMac}",
            "-device", "virtio-rng-pci"], keepInput: true);
        _processes.Add(qemu);

        async Task<TimeSpan> Seen(string text)
        {
            Assert.True(await qemu.WaitForAsync(text, s_bootTimeout - clock.Elapsed), $"no '{text}' on the console within {s_bootTimeout}:\n{qemu.Output}");
            return clock.Elapsed;
        }

        var init = await Seen("kraken-image: init");
        var kraken = await Seen($"({native.Kind}, linux-x64");
        var selftest = await Seen("selftest crypto: ok (OpenSSL ");
        var exited = await Seen("kraken-image: kraken exited with status 0");
        var console = qemu.Output;
        Assert.DoesNotContain("failed to load", console, StringComparison.Ordinal);
        var loaded = console.Split('\n').Single(l => l.StartsWith("kraken-image: modules: ", StringComparison.Ordinal))["kraken-image: modules: ".Length..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(image.Modules.Order(StringComparer.Ordinal), loaded.Order(StringComparer.Ordinal));
        Assert.Contains(console.Split('\n'), l => l.StartsWith("kraken-image: interfaces:", StringComparison.Ordinal) && l.Contains($" eth0={VmMac}", StringComparison.Ordinal));

        if (shell)
        {
            await Seen("kraken.shell=1: starting a shell");
            // The shell evaluates what it reads (the console echoes the command itself, not its result).
            await qemu.Input.WriteAsync("echo SHELL-$((6*7))\n");
            await qemu.Input.FlushAsync();
            await Seen("SHELL-42");
            await qemu.Input.WriteAsync("poweroff -f\n");
            await qemu.Input.FlushAsync();
        }
        else
        {
            await Seen("kraken-image: powering off in 10 s");
        }

        // Powered off: qemu (-no-reboot) ends on its own.
        Assert.True(qemu.WaitForExit(TimeSpan.FromSeconds(90)), $"the VM did not power off:\n{qemu.Output}");
        var off = clock.Elapsed;
        Assert.Equal(!shell, qemu.Output.Contains("powering off in", StringComparison.Ordinal));
        output.WriteLine($"TCG, kraken.shell={(shell ? 1 : 0)}: qemu start to 'kraken-image: init' {init.TotalSeconds:F1} s, to the kraken --version line {kraken.TotalSeconds:F1} s, "
            + $"selftest ok {selftest.TotalSeconds:F1} s, kraken exited {exited.TotalSeconds:F1} s, powered off {off.TotalSeconds:F1} s");
        output.WriteLine(string.Join('\n', qemu.Output.Split('\n').Where(l => l.StartsWith("kraken", StringComparison.Ordinal) || l.StartsWith("selftest", StringComparison.Ordinal))));
    }

    [Fact]
    public void A_native_kraken_puts_itself_in_the_image()
    {
        Assert.True(image.ExitCode == 0, image.Errors);
        Assert.Equal("aot", native.Kind);
        var into = Path.Combine(_dir, "self");
        var clock = Stopwatch.StartNew();
        var (exit, text) = Command.Run(native.Binary, ["image", "build", "--dir", into, "--cache", NativeKraken.Cache], TimeSpan.FromMinutes(10));
        output.WriteLine(text);
        output.WriteLine($"image build by the native kraken: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(exit == 0, text);
        Assert.Contains("kraken: aot from this native kraken", text, StringComparison.Ordinal);
        Assert.EndsWith("kraken aot", text.TrimEnd(), StringComparison.Ordinal);
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(into, "image.json"))).RootElement;
        Assert.Equal(new FileInfo(native.Binary).Length, manifest.GetProperty("kraken").GetProperty("size").GetInt64());
        Assert.Equal(image.Manifest.GetProperty("files").GetProperty("vmlinuz").GetProperty("sha256").GetString(), manifest.GetProperty("files").GetProperty("vmlinuz").GetProperty("sha256").GetString());

        // Bad input changes nothing and names the problem.
        var before = File.ReadAllBytes(Path.Combine(into, "image.json"));
        (exit, text) = Command.Run(native.Binary, ["image", "build", "--output", into, "--kraken", "/nonexistent/kraken", "--cache", NativeKraken.Cache]);
        Assert.Equal(1, exit);
        Assert.Contains("/nonexistent/kraken does not exist", text, StringComparison.Ordinal);
        (exit, text) = Command.Run(native.Binary, ["image", "build", "--cache", NativeKraken.Cache]);
        Assert.Equal(2, exit);
        Assert.Contains("--dir", text, StringComparison.Ordinal);
        (exit, text) = Command.Run(native.Binary, ["image", "build", "--output", into, "--kernel-package", "linux-image-;rm", "--cache", NativeKraken.Cache]);
        Assert.Equal(1, exit);
        Assert.Contains("--kernel-package", text, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(into, "image.json")));
    }

    [GeneratedRegex(@"^image: /\S+/vmlinuz \(\d+\.\d MiB\), /\S+/initrd\.img \(\d+\.\d MiB\), kraken (aot|single-file)$")]
    private static partial Regex SummaryLine();

    /// <summary>The name at the end of a "cpio -tv" line: after the date (month, day, time or year).</summary>
    [GeneratedRegex(@"^\S+\s+\d+\s+\S+\s+\S+\s+(\d+,\s+)?\d+\s+\w{3}\s+\d+\s+[\d:]+\s(?<name>.+)$")]
    private static partial Regex ListedName();
}
