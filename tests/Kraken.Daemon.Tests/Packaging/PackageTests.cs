// The packages as an operator gets them: packaging/build.sh makes the .deb and .rpm; the .deb installs, its programs
// run with the .NET runtime hidden, the packaged root configuration starts as the kraken user, an upgrade keeps a
// changed conffile and the secrets, and a purge removes what the package made. Needs root (.ci/run runs it so).
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using Kraken.Daemon.Tests.Image;
using Kraken.Daemon.Tests.Pxe;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Packaging;

[Collection(NativeKrakenCollection.Name)]
[Trait("Category", "Packaging")]
[SupportedOSPlatform("linux")]
public sealed partial class PackageTests(NativeKraken native, ITestOutputHelper output) : IDisposable
{
    /// <summary>What both packages install, and the one conffile.</summary>
    private static readonly string[] s_files =
    [
        "/usr/bin/kraken", "/usr/bin/kraken-sim", "/usr/lib/kraken/kraken", "/usr/lib/kraken/kraken-sim", "/usr/lib/kraken/libe_sqlite3.so",
        "/usr/lib/systemd/system/kraken.service", "/usr/lib/sysusers.d/kraken.conf", "/usr/lib/tmpfiles.d/kraken.conf",
        "/etc/kraken/kraken.json", "/usr/share/doc/kraken/daemon.md", "/usr/share/doc/kraken/packaging.md",
    ];

    private const string Conffile = "/etc/kraken/kraken.json";

    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-package-test-").FullName;
    private readonly List<ChildProcess> _processes = [];
    private bool _installed;
    private bool _userExisted = true;

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }

        if (_installed)
        {
            Command.Run("apt-get", ["purge", "-y", "kraken"], TimeSpan.FromMinutes(5));
        }

        // What the test's daemon left (the Cfg database) and the user the package made, on a machine that had neither.
        if (!_userExisted)
        {
            Command.Run("rm", ["-rf", "/var/lib/kraken"]);
            Command.Run("userdel", ["kraken"]);
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_deb_installs_runs_without_dotnet_upgrades_keeping_local_changes_and_purges()
    {
        Assert.True(Command.Run("id", ["-u"]).Output == "0", "the package test installs a .deb: run it as root (.ci/run does)");
        Assert.False(Command.Run("dpkg-query", ["-W", "-f=${Status}", "kraken"]).Output.Contains("install ok installed", StringComparison.Ordinal),
            "a kraken package is installed on this machine: the test would replace and purge it");
        _userExisted = Command.Run("getent", ["passwd", "kraken"]).ExitCode == 0;

        var (deb, rpm) = Build();
        CheckDeb(deb);
        CheckRpm(rpm);

        Command.Check("apt-get", "install", "-y", "--no-install-recommends", deb);
        _installed = true;
        CheckUnit();
        Assert.Equal(0, Command.Run("getent", ["passwd", "kraken"]).ExitCode);
        Assert.Equal("kraken kraken 750", Command.Check("stat", "-c", "%U %G %a", "/var/lib/kraken"));
        Assert.Equal("kraken kraken 700", Command.Check("stat", "-c", "%U %G %a", "/etc/kraken/credentials"));
        var token = await File.ReadAllTextAsync("/etc/kraken/api-token");
        Assert.Equal("kraken kraken 600", Command.Check("stat", "-c", "%U %G %a", "/etc/kraken/api-token"));
        Assert.Equal("kraken kraken 600", Command.Check("stat", "-c", "%U %G %a", "/etc/kraken/join-secret"));

        // No .NET anywhere: the runtime's directory hidden under an empty tmpfs in a mount namespace of its own.
        var version = WithoutDotnet("kraken --version && kraken-sim show");
        Assert.Matches(@"^kraken \d+\.\d+\.\d+\S* \((aot|single-file), linux-x64", version);
        Assert.Contains("Cluster from embedded example cluster", version, StringComparison.Ordinal);

        await ServePackagedConfigAsync();

        // Upgrade: a changed conffile and the secrets stay as they are.
        await File.AppendAllTextAsync(Conffile, "\n");
        var changed = await File.ReadAllTextAsync(Conffile);
        var upgrade = Repack(deb, "+upgrade");
        Command.Check("apt-get", "install", "-y", "--no-install-recommends", upgrade);
        Assert.EndsWith("+upgrade", Command.Check("dpkg-query", "-W", "-f=${Version}", "kraken"), StringComparison.Ordinal);
        Assert.Equal(changed, await File.ReadAllTextAsync(Conffile));
        Assert.Equal(token, await File.ReadAllTextAsync("/etc/kraken/api-token"));

        Command.Check("apt-get", "purge", "-y", "kraken");
        _installed = false;
        foreach (var file in s_files)
        {
            Assert.False(File.Exists(file), $"{file} is still there after the purge");
        }

        Assert.False(Directory.Exists("/etc/kraken"), "/etc/kraken is still there after the purge");
        Assert.True(File.Exists("/var/lib/kraken/cfg.db"), "the purge removed the Cfg database");
    }

    /// <summary>packaging/build.sh with the test run's NativeAOT kraken (published once for the image tests too).</summary>
    private (string Deb, string Rpm) Build()
    {
        var artifacts = Path.Combine(_dir, "artifacts");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (exit, text) = Command.Run("bash", [Path.Combine(TestDaemon.RepoRoot(), "packaging", "build.sh"), "--output", artifacts, "--kraken", Path.GetDirectoryName(native.Binary)!],
            TimeSpan.FromMinutes(45));
        output.WriteLine($"build.sh ({clock.Elapsed.TotalSeconds:F0} s):\n{text}");
        Assert.True(exit == 0, text);
        var deb = Assert.Single(Directory.GetFiles(artifacts, "kraken_*_amd64.deb"));
        var rpm = Assert.Single(Directory.GetFiles(artifacts, "kraken-*.x86_64.rpm"));
        output.WriteLine($"{Path.GetFileName(deb)}: {new FileInfo(deb).Length / 1048576.0:F1} MiB; {Path.GetFileName(rpm)}: {new FileInfo(rpm).Length / 1048576.0:F1} MiB");
        foreach (var program in new[] { "kraken", "kraken-sim" })
        {
            Assert.True(File.Exists(Path.Combine(artifacts, "linux-x64", program)), $"artifacts/linux-x64/{program} is missing");
        }

        return (deb, rpm);
    }

    private static void CheckDeb(string deb)
    {
        var contents = Command.Check("dpkg-deb", "--contents", deb);
        foreach (var file in s_files)
        {
            Assert.Matches($@"(?m) \.{Regex.Escape(file)}( -> \S+)?$", contents);
        }

        Assert.Equal(Conffile, Command.Check("dpkg-deb", "--info", deb, "conffiles"));
        var depends = Command.Check("dpkg-deb", "--field", deb, "Depends");
        Assert.Contains("libc6", depends, StringComparison.Ordinal);
        Assert.Contains("libssl3", depends, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet", depends, StringComparison.Ordinal);
    }

    private static void CheckRpm(string rpm)
    {
        var files = Command.Check("rpm", "-qlp", rpm).Split('\n');
        foreach (var file in s_files)
        {
            Assert.Contains(file, files);
        }

        Assert.Equal(Conffile, Command.Check("rpm", "-qp", "--configfiles", rpm));
        var requires = Command.Check("rpm", "-qp", "--requires", rpm);
        Assert.Contains("libssl.so.3()(64bit)", requires, StringComparison.Ordinal);
        Assert.DoesNotContain("libe_sqlite3", requires, StringComparison.Ordinal);
        var scripts = Command.Check("rpm", "-qp", "--scripts", rpm);
        Assert.Contains("systemd-sysusers kraken.conf", scripts, StringComparison.Ordinal);
        Assert.Contains("systemctl try-restart kraken.service", scripts, StringComparison.Ordinal);
    }

    /// <summary>systemd-analyze verify and security on the unit as installed (verify needs its ExecStart there).</summary>
    private void CheckUnit()
    {
        const string unit = "/usr/lib/systemd/system/kraken.service";
        var (exit, text) = Command.Run("systemd-analyze", ["verify", "--man=no", unit]);
        output.WriteLine($"systemd-analyze verify: exit {exit} {text}");
        Assert.True(exit == 0 && text.Length == 0, text);
        (exit, text) = Command.Run("systemd-analyze", ["security", "--offline=true", unit]);
        var score = ExposureLine().Match(text);
        output.WriteLine(score.Value);
        Assert.True(exit == 0 && score.Success, text);
        var exposure = double.Parse(score.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(exposure <= 2.0, $"the unit's exposure is {exposure}, above the 2.0 docs/packaging.md reports:\n{text}");
    }

    /// <summary>Runs <paramref name="script"/> (sh) with the directory the running .NET came from hidden, and PATH without it.</summary>
    private static string WithoutDotnet(string script)
    {
        var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var (exit, text) = Command.Run("unshare", ["--mount", "--propagation", "private", "sh", "-c",
            $"mount -t tmpfs none \"$1\" && if dotnet --info >/dev/null 2>&1; then echo 'dotnet still runs'; exit 99; fi; {script}", "sh", dotnetRoot],
            environment: new Dictionary<string, string> { ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin", ["DOTNET_ROOT"] = "" });
        Assert.True(exit == 0, $"exit {exit}: {text}");
        return text;
    }

    /// <summary>The installed daemon, as the kraken user with the packaged configuration (ports moved off the defaults), without .NET.</summary>
    private async Task ServePackagedConfigAsync()
    {
        var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var daemon = ChildProcess.Start("unshare", ["--mount", "--propagation", "private", "sh", "-c",
            "mount -t tmpfs none \"$1\" && exec setpriv --reuid=kraken --regid=kraken --clear-groups /usr/bin/kraken serve --config /etc/kraken/kraken.json --Api:Url=http://127.0.0.1:0 --Sync:Bind=127.0.0.1:0",
            "sh", dotnetRoot]);
        _processes.Add(daemon);
        Assert.True(await daemon.WaitForAsync("API listening on", TimeSpan.FromSeconds(60)), daemon.Output);
        var url = ListeningUrl().Match(daemon.Output).Groups[1].Value;
        var (exit, text) = Command.Run("/usr/bin/kraken", ["node", "set", "123e4567-e89b-12d3-a456-426655440000", "/Nodename=packaged", "--server", url, "--token-file", "/etc/kraken/api-token"]);
        Assert.True(exit == 0, text);
        (exit, text) = Command.Run("/usr/bin/kraken", ["nodes", "list", "--server", url]);
        Assert.True(exit == 0 && text.Contains("packaged", StringComparison.Ordinal), text);
        daemon.Terminate(TimeSpan.FromSeconds(30));
        Assert.True(daemon.ExitCode == 0, daemon.Output);
        Assert.Equal("kraken", Command.Check("stat", "-c", "%U", "/var/lib/kraken/cfg.db"));
    }

    /// <summary>The .deb with another version, as the next release would come.</summary>
    private string Repack(string deb, string suffix)
    {
        var tree = Path.Combine(_dir, "repack");
        Command.Check("dpkg-deb", "-R", deb, tree);
        var control = Path.Combine(tree, "DEBIAN", "control");
        File.WriteAllText(control, VersionLine().Replace(File.ReadAllText(control), m => m.Value + suffix));
        var next = Path.Combine(_dir, "kraken-next.deb");
        Command.Check("dpkg-deb", "--root-owner-group", "--build", tree, next);
        return next;
    }

    [GeneratedRegex(@"Overall exposure level for kraken\.service: (\d+\.\d+)")]
    private static partial Regex ExposureLine();

    [GeneratedRegex(@"API listening on (http://\S+)")]
    private static partial Regex ListeningUrl();

    [GeneratedRegex(@"(?m)(?<=^Version: )\S+")]
    private static partial Regex VersionLine();
}
