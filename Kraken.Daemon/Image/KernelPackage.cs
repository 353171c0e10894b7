// Debian's kernel for the image: the newest linux-image-<version>-amd64 package, downloaded and unpacked into the cache, never installed.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Kraken.Daemon.Image;

/// <summary>An unpacked kernel package.</summary>
/// <param name="Package">The package name (<c>linux-image-6.1.0-57-amd64</c>).</param>
/// <param name="Version">The package's Debian version (<c>6.1.192-3</c>).</param>
/// <param name="Release">The kernel release, as <c>uname -r</c> prints it and <c>/lib/modules</c> names it.</param>
/// <param name="Vmlinuz">The kernel image in the unpacked tree.</param>
/// <param name="ModulesDirectory">The unpacked <c>lib/modules/&lt;release&gt;</c>.</param>
/// <param name="Deb">The downloaded package file.</param>
internal sealed record KernelInfo(string Package, string Version, string Release, string Vmlinuz, string ModulesDirectory, string Deb);

internal static partial class KernelPackage
{
    /// <summary>
    /// Finds <paramref name="package"/> (or the highest <c>linux-image-X.Y.Z-N-amd64</c> that <c>apt-cache search</c>
    /// lists), downloads it into <paramref name="cache"/> with <c>apt-get download</c> unless a copy is there, and
    /// unpacks it with <c>dpkg -x</c> beside it.
    /// </summary>
    public static KernelInfo Fetch(string cache, string? package, TextWriter log)
    {
        var aptCache = Tool.Require("apt-cache", "apt");
        var aptGet = Tool.Require("apt-get", "apt");
        var dpkg = Tool.Require("dpkg", "dpkg");
        var dpkgDeb = Tool.Require("dpkg-deb", "dpkg");
        if (package is not null && !KernelPackageName().IsMatch(package))
        {
            throw new ImageBuildException($"--kernel-package '{package}' is not a kernel image package name (linux-image-<release>, e.g. linux-image-6.1.0-57-amd64)");
        }

        package ??= Newest(aptCache, aptGet, log);
        var release = package["linux-image-".Length..];
        var deb = Directory.GetFiles(cache, $"{package}_*.deb").Order(StringComparer.Ordinal).LastOrDefault();
        if (deb is null)
        {
            log.WriteLine($"kernel: downloading {package} (apt-get download)");
            var (exit, output) = Tool.Run(aptGet, ["download", package], cache, timeout: TimeSpan.FromMinutes(20));
            deb = Directory.GetFiles(cache, $"{package}_*.deb").Order(StringComparer.Ordinal).LastOrDefault();
            if (exit != 0 || deb is null)
            {
                throw new ImageBuildException($"apt-get download {package} failed (exit {exit}): {Tool.Tail(output)}");
            }
        }

        var version = Tool.Check(dpkgDeb, ["-f", deb, "Version"]).Trim();
        var root = deb[..^".deb".Length];
        if (!Directory.Exists(root))
        {
            // Unpack beside, then rename: an interrupted unpack never looks complete.
            var partial = root + ".partial";
            if (Directory.Exists(partial))
            {
                Directory.Delete(partial, recursive: true);
            }

            log.WriteLine($"kernel: unpacking {Path.GetFileName(deb)} (dpkg -x)");
            Tool.Check(dpkg, ["-x", deb, partial]);
            Directory.Move(partial, root);
        }

        var vmlinuz = Path.Combine(root, "boot", $"vmlinuz-{release}");
        if (!File.Exists(vmlinuz))
        {
            throw new ImageBuildException($"{Path.GetFileName(deb)} has no boot/vmlinuz-{release}: is {package} a kernel image package?");
        }

        // Debian moves the modules under /usr with the merged /usr; take whichever the package has.
        var modules = new[] { Path.Combine(root, "lib", "modules", release), Path.Combine(root, "usr", "lib", "modules", release) }
            .FirstOrDefault(Directory.Exists)
            ?? throw new ImageBuildException($"{Path.GetFileName(deb)} has no lib/modules/{release}");
        return new KernelInfo(package, version, release, vmlinuz, modules, deb);
    }

    /// <summary>The highest plain-flavour amd64 kernel image package apt knows, reading the package lists once if it knows none.</summary>
    private static string Newest(string aptCache, string aptGet, TextWriter log)
    {
        var candidates = Candidates(aptCache);
        if (candidates.Count == 0)
        {
            log.WriteLine("kernel: apt knows no linux-image package; reading the package lists (apt-get update)");
            var (exit, output) = Tool.Run(aptGet, ["update", "-qq"], timeout: TimeSpan.FromMinutes(10));
            if (exit != 0)
            {
                throw new ImageBuildException($"apt-get update failed (exit {exit}): {Tool.Tail(output)}");
            }

            candidates = Candidates(aptCache);
        }

        return candidates.Count > 0
            ? candidates[^1].Name
            : throw new ImageBuildException("apt-cache search finds no linux-image-<version>-amd64 package (is this a Debian amd64 machine with the main archive in its sources?)");
    }

    /// <summary>linux-image-X.Y.Z-N-amd64 packages (not -cloud-, -rt- or the meta package), oldest first.</summary>
    internal static List<(Version Version, string Name)> Candidates(string aptCache)
    {
        var output = Tool.Check(aptCache, ["search", "--names-only", "^linux-image-[0-9].*-amd64$"]);
        return ParseCandidates(output);
    }

    internal static List<(Version Version, string Name)> ParseCandidates(string aptCacheOutput) =>
        [.. aptCacheOutput.Split('\n')
            .Select(l => PlainAmd64().Match(l.Trim()))
            .Where(m => m.Success)
            .Select(m => (new Version(Int(m, 1), Int(m, 2), Int(m, 3), Int(m, 4)), m.Groups["name"].Value))
            .OrderBy(c => c.Item1)];

    private static int Int(Match m, int group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?<name>linux-image-(\d+)\.(\d+)\.(\d+)-(\d+)-amd64)(\s|$)")]
    private static partial Regex PlainAmd64();

    [GeneratedRegex(@"^linux-image-[0-9][A-Za-z0-9.+~-]*$")]
    private static partial Regex KernelPackageName();
}
