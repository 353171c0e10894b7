// The kraken program that goes into the image: a given file, this very program when it is native, or a fresh publish of the source tree.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Image;

/// <summary>A kraken build ready to copy.</summary>
/// <param name="Binary">The executable.</param>
/// <param name="Kind"><c>aot</c> (NativeAOT) or <c>single-file</c> (self-contained, trimmed).</param>
/// <param name="Version">What its <c>--version</c> prints.</param>
/// <param name="Companions">Native libraries beside it that it loads (<c>libe_sqlite3.so</c>).</param>
/// <param name="Origin">Where it came from, for the report.</param>
internal sealed record KrakenBuild(string Binary, string Kind, string Version, IReadOnlyList<string> Companions, string Origin);

internal static class KrakenBinary
{
    public const string Aot = "aot";
    public const string SingleFile = "single-file";

    private const string FingerprintFile = ".kraken-source";

    /// <summary>The projects and files whose content decides whether a cached publish is still current.</summary>
    private static readonly string[] s_sourceDirectories = ["Kraken.Daemon", "Kraken.Modules", "Kraken.Tree", "Kraken.Net"];
    private static readonly string[] s_sourceFiles = ["Directory.Build.props", "Directory.Packages.props", "global.json", "nuget.config", ".editorconfig"];

    /// <summary>
    /// <paramref name="given"/> if set; else this process if it is a native kraken; else a publish of the source
    /// tree this program was built from (NativeAOT, or self-contained single-file when NativeAOT cannot build here),
    /// reused from <paramref name="cache"/> while no source file has changed.
    /// </summary>
    public static KrakenBuild Locate(string? given, string cache, TextWriter log)
    {
        if (given is not null)
        {
            return Describe(Path.GetFullPath(given), "--kraken");
        }

        if (!RuntimeFeature.IsDynamicCodeSupported && Environment.ProcessPath is { } self)
        {
            return Describe(self, "this native kraken");
        }

        return Publish(cache, log);
    }

    /// <summary>Asks a binary what it is (<c>--version</c>); framework-dependent builds and strangers are refused.</summary>
    public static KrakenBuild Describe(string binary, string origin)
    {
        if (!File.Exists(binary))
        {
            throw new ImageBuildException($"{binary} does not exist");
        }

        if (!ElfFile.IsElf(binary))
        {
            throw new ImageBuildException($"{binary} is not a native program (an ELF file); give the kraken executable of a NativeAOT or single-file publish");
        }

        var (exit, output) = Tool.Run(binary, ["--version"], timeout: TimeSpan.FromMinutes(1));
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("kraken ", StringComparison.Ordinal))?.Trim();
        if (exit != 0 || line is null)
        {
            throw new ImageBuildException($"{binary} --version did not answer as kraken does (exit {exit}): {Tool.Tail(output, 5)}");
        }

        var kind = BuildInfo.KindOf(line)
            ?? throw new ImageBuildException($"{binary} does not say how it was built: '{line}'");
        if (kind is not (Aot or SingleFile))
        {
            throw new ImageBuildException($"{binary} is a framework-dependent build ({kind}): it needs dotnet, which the image does not have; give a NativeAOT or self-contained single-file build");
        }

        var directory = Path.GetDirectoryName(binary)!;
        var companions = Directory.GetFiles(directory, "*.so").Order(StringComparer.Ordinal).ToList();
        return new KrakenBuild(binary, kind, line, companions, origin);
    }

    private static KrakenBuild Publish(string cache, TextWriter log)
    {
        var repository = FindRepository()
            ?? throw new ImageBuildException($"no kraken.sln above {AppContext.BaseDirectory}, so there is no source tree to publish from: give --kraken PATH (a NativeAOT kraken)");
        var dotnet = Tool.Find("dotnet")
            ?? (Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : null)
            ?? throw new ImageBuildException("dotnet not found on PATH: publishing kraken from the source tree needs the .NET SDK (or give --kraken PATH)");
        var fingerprint = Fingerprint(repository);
        var aotDirectory = Path.Combine(cache, "publish");
        var singleDirectory = Path.Combine(cache, "publish-single-file");
        if (IsCurrent(aotDirectory, fingerprint))
        {
            log.WriteLine($"kraken: reusing the NativeAOT publish in {aotDirectory} (sources unchanged)");
            return Describe(Path.Combine(aotDirectory, "kraken"), "cached NativeAOT publish");
        }

        var clang = Tool.Find("clang");
        string reason;
        if (clang is null)
        {
            reason = "clang not found on PATH (NativeAOT links with clang and lld: apt-get install clang lld zlib1g-dev)";
        }
        else
        {
            log.WriteLine($"kraken: publishing with NativeAOT from {repository} (takes minutes)");
            var (ok, elapsed, output) = RunPublish(dotnet, repository, aotDirectory, Aot);
            if (ok)
            {
                File.WriteAllText(Path.Combine(aotDirectory, FingerprintFile), fingerprint);
                log.WriteLine($"kraken: NativeAOT publish took {elapsed.TotalSeconds:F0} s");
                return Describe(Path.Combine(aotDirectory, "kraken"), $"NativeAOT publish ({elapsed.TotalSeconds:F0} s)");
            }

            reason = $"the NativeAOT publish failed: {Tool.Tail(output, 10)}";
        }

        log.WriteLine($"kraken: cannot build NativeAOT here: {reason}");
        if (IsCurrent(singleDirectory, fingerprint))
        {
            log.WriteLine($"kraken: reusing the single-file publish in {singleDirectory} (sources unchanged)");
            return Describe(Path.Combine(singleDirectory, "kraken"), "cached single-file publish");
        }

        log.WriteLine("kraken: publishing self-contained single-file (trimmed) instead");
        var single = RunPublish(dotnet, repository, singleDirectory, SingleFile);
        if (!single.Ok)
        {
            throw new ImageBuildException($"cannot publish kraken: {reason}; and the single-file publish failed too: {Tool.Tail(single.Output, 10)}");
        }

        File.WriteAllText(Path.Combine(singleDirectory, FingerprintFile), fingerprint);
        log.WriteLine($"kraken: single-file publish took {single.Elapsed.TotalSeconds:F0} s");
        return Describe(Path.Combine(singleDirectory, "kraken"), $"single-file publish ({single.Elapsed.TotalSeconds:F0} s)");
    }

    /// <summary>Publishes the daemon the way <paramref name="kind"/> says: the KrakenPublish property set in Directory.Build.props, shared with packaging/build.sh.</summary>
    private static (bool Ok, TimeSpan Elapsed, string Output) RunPublish(string dotnet, string repository, string output, string kind)
    {
        if (Directory.Exists(output))
        {
            Directory.Delete(output, recursive: true);
        }

        var clock = Stopwatch.StartNew();
        var (exit, text) = Tool.Run(dotnet,
            ["publish", Path.Combine(repository, "Kraken.Daemon", "Kraken.Daemon.csproj"), "-c", "Release", "-r", "linux-x64", $"-p:KrakenPublish={kind}", "-o", output, "-nologo"],
            repository, timeout: TimeSpan.FromMinutes(30));
        return (exit == 0 && File.Exists(Path.Combine(output, "kraken")), clock.Elapsed, text);
    }

    private static bool IsCurrent(string directory, string fingerprint)
    {
        var stamp = Path.Combine(directory, FingerprintFile);
        return File.Exists(stamp) && File.Exists(Path.Combine(directory, "kraken")) && File.ReadAllText(stamp) == fingerprint;
    }

    /// <summary>The directory holding kraken.sln, walking up from this program's directory.</summary>
    internal static string? FindRepository()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "kraken.sln")) && Directory.Exists(Path.Combine(d.FullName, "Kraken.Daemon")))
            {
                return d.FullName;
            }
        }

        return null;
    }

    /// <summary>
    /// SHA-256 over the path, size and modification time of every source file the daemon is built from (bin/ and
    /// obj/ excluded): any edit, addition or removal changes it.
    /// </summary>
    internal static string Fingerprint(string repository)
    {
        var files = s_sourceDirectories
            .Select(d => Path.Combine(repository, d))
            .Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => !Path.GetRelativePath(repository, f).Split('/').Any(p => p is "bin" or "obj"))
            .Concat(s_sourceFiles.Select(f => Path.Combine(repository, f)).Where(File.Exists))
            .Select(f => Path.GetRelativePath(repository, f))
            .Order(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var f in files)
        {
            var info = new FileInfo(Path.Combine(repository, f));
            text.Append(f).Append('\0').Append(info.Length).Append('\0').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
