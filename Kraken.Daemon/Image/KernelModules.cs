// The kernel modules the image loads: the NIC drivers it needs and everything they depend on, in load order.
using System.IO.Compression;

namespace Kraken.Daemon.Image;

/// <summary>A module to put in the image.</summary>
/// <param name="Name">The module name (<c>virtio_net</c>; dashes in file names read as underscores).</param>
/// <param name="RelativePath">Its place under <c>/lib/modules/&lt;release&gt;</c>, uncompressed (<c>kernel/drivers/net/virtio_net.ko</c>).</param>
/// <param name="Source">The uncompressed file on the build machine.</param>
internal sealed record KernelModule(string Name, string RelativePath, string Source);

internal static class KernelModules
{
    /// <summary>
    /// What the image loads: qemu's virtio NIC (with the virtio PCI transport that finds it), Intel's e1000 (qemu's
    /// default, older servers) and e1000e (qemu's q35 default, most current Intel onboard NICs), and virtio_rng:
    /// with qemu's <c>-device virtio-rng-pci</c> it feeds the kernel's random pool, which kraken's start waits for.
    /// </summary>
    public static readonly string[] Default = ["virtio_pci", "virtio_net", "e1000", "e1000e", "virtio_rng"];

    private static readonly string[] s_suffixes = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

    /// <summary>
    /// <paramref name="wanted"/> and their dependencies, each after what it depends on. Dependencies come from
    /// <c>modules.dep</c> when the tree has one; Debian's packages do not ship it (depmod writes it when the package
    /// is installed), so otherwise from each module's <c>.modinfo depends=</c>, the list depmod itself starts from.
    /// Compressed modules (.ko.xz, .ko.zst, .ko.gz) are decompressed into <paramref name="scratch"/>: busybox insmod
    /// hands the file to the kernel as it is. Modules built into the kernel are skipped.
    /// </summary>
    public static IReadOnlyList<KernelModule> Resolve(string modulesDirectory, IEnumerable<string> wanted, string scratch)
    {
        var files = Index(modulesDirectory);
        var builtin = Builtin(modulesDirectory);
        var dep = Path.Combine(modulesDirectory, "modules.dep");
        var fromDepFile = File.Exists(dep) ? ParseModulesDep(File.ReadAllLines(dep)) : null;
        var order = new List<KernelModule>();
        var state = new Dictionary<string, bool>(StringComparer.Ordinal);   // false: being visited, true: done

        void Visit(string name, string? neededBy)
        {
            name = Normalize(name);
            if (state.TryGetValue(name, out var done))
            {
                if (!done)
                {
                    throw new ImageBuildException($"kernel module {name} depends on itself (through {neededBy})");
                }

                return;
            }

            if (!files.TryGetValue(name, out var relative))
            {
                if (builtin.Contains(name))
                {
                    state[name] = true;
                    return;
                }

                throw new ImageBuildException(neededBy is null
                    ? $"kernel module {name} is not in {modulesDirectory}"
                    : $"kernel module {name} (needed by {neededBy}) is not in {modulesDirectory}");
            }

            state[name] = false;
            var source = Uncompressed(Path.Combine(modulesDirectory, relative), scratch, relative);
            var depends = fromDepFile is not null
                ? fromDepFile.GetValueOrDefault(name) ?? []
                : [.. ElfFile.Read(source).ModuleInfo().Where(kv => kv.Key == "depends").SelectMany(kv => kv.Value.Split(',', StringSplitOptions.RemoveEmptyEntries))];
            foreach (var d in depends)
            {
                Visit(d, name);
            }

            state[name] = true;
            order.Add(new KernelModule(name, StripCompression(relative), source));
        }

        foreach (var w in wanted)
        {
            Visit(w, null);
        }

        return order;
    }

    /// <summary>
    /// Reads <c>modules.dep</c> ("kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko ..."):
    /// each module's direct and indirect dependencies, by name.
    /// </summary>
    internal static Dictionary<string, string[]> ParseModulesDep(IEnumerable<string> lines)
    {
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var deps = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(NameOf).ToArray();
            result[NameOf(line[..colon])] = deps;
        }

        return result;
    }

    /// <summary>"kernel/drivers/net/virtio_net.ko.xz" -> "virtio_net".</summary>
    internal static string NameOf(string path)
    {
        var file = Path.GetFileName(path);
        var ko = file.IndexOf(".ko", StringComparison.Ordinal);
        return Normalize(ko > 0 ? file[..ko] : file);
    }

    private static string Normalize(string name) => name.Trim().Replace('-', '_');

    private static string StripCompression(string relative) =>
        relative.EndsWith(".ko", StringComparison.Ordinal) ? relative : relative[..(relative.LastIndexOf(".ko", StringComparison.Ordinal) + 3)];

    /// <summary>Every module file under the tree, by name, as a path relative to it.</summary>
    private static Dictionary<string, string> Index(string modulesDirectory)
    {
        var index = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(modulesDirectory, "*.ko*", SearchOption.AllDirectories))
        {
            if (s_suffixes.Any(s => file.EndsWith(s, StringComparison.Ordinal)))
            {
                index.TryAdd(NameOf(file), Path.GetRelativePath(modulesDirectory, file));
            }
        }

        return index.Count > 0 ? index : throw new ImageBuildException($"{modulesDirectory} holds no kernel modules");
    }

    private static HashSet<string> Builtin(string modulesDirectory)
    {
        var path = Path.Combine(modulesDirectory, "modules.builtin");
        return File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(NameOf)] : [];
    }

    private static string Uncompressed(string path, string scratch, string relative)
    {
        if (path.EndsWith(".ko", StringComparison.Ordinal))
        {
            return path;
        }

        var target = Path.Combine(scratch, StripCompression(relative));
        if (File.Exists(target) && File.GetLastWriteTimeUtc(target) >= File.GetLastWriteTimeUtc(path))
        {
            return target;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var partial = target + ".partial";
        using (var output = File.Create(partial))
        {
            if (path.EndsWith(".gz", StringComparison.Ordinal))
            {
                using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
                gz.CopyTo(output);
            }
            else
            {
                var (tool, package) = path.EndsWith(".xz", StringComparison.Ordinal) ? ("xz", "xz-utils") : ("zstd", "zstd");
                var (exit, message) = Tool.Run(Tool.Require(tool, package), ["-dc", path], stdout: output);
                if (exit != 0)
                {
                    throw new ImageBuildException($"{tool} -dc {path} failed (exit {exit}): {message}");
                }
            }
        }

        File.Move(partial, target, overwrite: true);
        return target;
    }
}
