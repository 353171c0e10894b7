// "kraken lab up": checks everything it can before touching the machine, then builds the lab step by step,
// recording each thing in lab.json before (or as) it is made, and tears it all down again if a step fails.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Hosting;

namespace Kraken.Daemon.Lab;

/// <summary>The options of <c>kraken lab up</c>.</summary>
internal sealed record LabUpOptions(int Tier1, int Leaves, string Directory, string? Image, bool Backup, bool Wait, TimeSpan Timeout, bool Keep);

[SupportedOSPlatform("linux")]
internal sealed class LabUp
{
    public const string DefaultImageDirectory = "/var/cache/kraken-lab/image";

    private readonly LabUpOptions _options;
    private readonly TextWriter _out;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private LabPlan _plan = null!;
    private LabPaths _paths = null!;
    private LabRecord? _record;

    public LabUp(LabUpOptions options, TextWriter output)
    {
        _options = options;
        _out = output;
    }

    /// <summary>Builds the lab; 0 when it is up (and, with --wait, every node is SYNC), 1 when it failed.</summary>
    public async Task<int> RunAsync(CancellationToken ct)
    {
        _plan = LabPlan.Create(_options.Directory, _options.Tier1, _options.Leaves, _options.Backup);
        _paths = new LabPaths(_plan.Directory);
        var tools = Preflight();
        var image = ResolveImage();
        _clock.Restart(); // lab up's times count from here: a build of the image is not part of the lab's boot
        var (accel, why) = LabAccelerator.Choose(tools.Qemu);
        Say($"lab {_plan.Name} in {_plan.Directory}: {_plan.Describe()}, image {image}");
        Say($"lab: accelerator {accel} ({why})");

        try
        {
            Build(tools, image, accel);
            await StartRootAsync(ct);
            Say($"export KRAKEN_SERVER={_plan.ApiUrl} KRAKEN_TOKEN_FILE={_paths.ApiToken}");
            if (_options.Wait)
            {
                using var client = new ApiClient(new Uri(_plan.ApiUrl), null, TimeSpan.FromSeconds(10));
                var waiter = new LabWaiter(_plan, _paths, client, _out, _clock, _options.Timeout, NoteFile);
                if (!await waiter.RunAsync(ct))
                {
                    return await FailAsync(null);
                }
            }

            Note(r => r.Complete = true);
            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return await FailAsync("interrupted");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever went wrong, what was made so far is recorded and comes down again.
            return await FailAsync(e is CliException or IOException or UnauthorizedAccessException ? e.Message : e.ToString());
        }
    }

    private async Task<int> FailAsync(string? reason)
    {
        if (reason is not null)
        {
            Say($"lab up failed: {reason}");
        }

        if (_options.Keep)
        {
            Say($"lab: kept as it is (--keep); remove it with: kraken lab down --dir {_plan.Directory}");
            return 1;
        }

        Say("lab: tearing down what was made");
        if (_record is not null)
        {
            await new LabDown(_paths, _out).TeardownAsync(_record);
        }

        return 1;
    }

    /// <summary>One line for people, flushed at once (the output is often a pipe).</summary>
    private void Say(string line)
    {
        _out.WriteLine(line);
        _out.Flush();
    }

    /// <summary>Applies <paramref name="change"/> to the record and writes it at once.</summary>
    private void Note(Action<LabRecord> change)
    {
        change(_record!);
        _record!.Save(_paths.Record);
    }

    private void NoteFile(string path) => Note(r =>
    {
        if (!r.Files.Contains(path))
        {
            r.Files.Add(path);
        }
    });

    private readonly record struct Tools(string Qemu, string IpmiSim);

    /// <summary>Everything that can be checked without changing anything; each failure names what is wrong.</summary>
    private Tools Preflight()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new CliException("lab up needs root (it creates network namespaces, bridges and taps)");
        }

        if (_plan.Directory.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+')))
        {
            throw new CliException($"--dir '{_plan.Directory}': use letters, digits and / . _ - + only (the path goes into qemu options, ipmi_sim's configuration and shell scripts)", 2);
        }

        if (File.Exists(_paths.Record))
        {
            throw new CliException($"a lab is already recorded in {_plan.Directory} ({_paths.Record}); remove it first with: kraken lab down --dir {_plan.Directory}");
        }

        foreach (var path in _paths.OwnedFiles.Concat(_paths.OwnedDirectories))
        {
            if (Path.Exists(path))
            {
                throw new CliException($"{path} exists but no lab is recorded in {_plan.Directory}: remove it or choose another --dir");
            }
        }

        foreach (var ns in new[] { _plan.RootNamespace, _plan.FabricNamespace })
        {
            if (LabSystem.NamespaceExists(ns))
            {
                throw new CliException($"network namespace {ns} exists but no lab is recorded in {_plan.Directory}: remove it with 'ip netns del {ns}'");
            }
        }

        if (LabSystem.LinkExists(null, _plan.HostLink))
        {
            throw new CliException($"link {_plan.HostLink} exists but no lab is recorded in {_plan.Directory}: remove it with 'ip link del {_plan.HostLink}'");
        }

        foreach (var program in new[] { "ip", "setsid", "sh" })
        {
            _ = LabSystem.Which(program) ?? throw new CliException($"{program} is not installed (Debian: iproute2, util-linux, dash)");
        }

        var qemu = LabSystem.Which("qemu-system-x86_64") ?? throw new CliException("qemu-system-x86_64 is not installed (Debian: qemu-system-x86)");
        var ipmiSim = LabSystem.Which("ipmi_sim") ?? throw new CliException("ipmi_sim is not installed (Debian: openipmi)");
        if (!File.Exists(LabBmcFiles.IpxeRom))
        {
            throw new CliException($"{LabBmcFiles.IpxeRom} is missing (Debian: ipxe-qemu)");
        }

        return new Tools(qemu, ipmiSim);
    }

    /// <summary>The image directory: --image, else the cache (built there with 'kraken image build' when empty).</summary>
    private string ResolveImage()
    {
        if (_options.Image is { } given)
        {
            var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(given));
            CheckImage(dir, "--image");
            return dir;
        }

        if (HasImage(DefaultImageDirectory))
        {
            // An image another kraken built would boot daemons of that version; rebuild it for this one.
            if (IsCurrent(DefaultImageDirectory))
            {
                return DefaultImageDirectory;
            }

            Say($"lab: the image in {DefaultImageDirectory} holds {ImageKraken(DefaultImageDirectory)}; this is kraken {BuildInfo.Version}: rebuilding it with 'kraken image build'");
        }
        else
        {
            Say($"lab: no image in {DefaultImageDirectory}; building one with 'kraken image build'");
        }

        if (!CommandLine.HasVerb("image build"))
        {
            throw new CliException($"--image DIR is required: {DefaultImageDirectory} holds no image of this kraken and this kraken has no 'image build' verb to make one", 2);
        }

        Say("lab: (a few minutes when it has to compile the native daemon; later builds reuse it while the source is unchanged)");
        var build = Stopwatch.StartNew();
        var (exit, output) = LabSystem.Run(KrakenCommand()[0], [.. KrakenCommand().Skip(1), "image", "build", "--dir", DefaultImageDirectory], TimeSpan.FromMinutes(30));
        if (exit != 0)
        {
            throw new CliException($"kraken image build --dir {DefaultImageDirectory} failed (exit {exit}): {output}");
        }

        Say(string.Create(CultureInfo.InvariantCulture, $"lab: image built in {build.Elapsed.TotalSeconds:0.0} s: {ImageKraken(DefaultImageDirectory) ?? "(no image.json)"}"));

        CheckImage(DefaultImageDirectory, "kraken image build");
        return DefaultImageDirectory;
    }

    /// <summary>Whether an image holds this kraken's version, or does not say which it holds (an image made by hand).</summary>
    internal static bool IsCurrent(string dir) =>
        ImageKraken(dir) is not { } built || built.StartsWith($"kraken {BuildInfo.Version} ", StringComparison.Ordinal);

    /// <summary>The kraken an image was built with (its <c>image.json</c>'s <c>kraken.version</c>), or null when it does not say.</summary>
    internal static string? ImageKraken(string dir)
    {
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "image.json")));
            return json.RootElement.TryGetProperty("kraken", out var kraken) && kraken.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.String
                ? version.GetString()
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    private static bool HasImage(string dir) =>
        new FileInfo(Path.Combine(dir, "vmlinuz")) is { Exists: true, Length: > 0 } && new FileInfo(Path.Combine(dir, "initrd.img")) is { Exists: true, Length: > 0 };

    private static void CheckImage(string dir, string source)
    {
        if (!Directory.Exists(dir))
        {
            throw new CliException($"{source} {dir}: no such directory", 2);
        }

        foreach (var file in new[] { "vmlinuz", "initrd.img" })
        {
            if (new FileInfo(Path.Combine(dir, file)) is not { Exists: true, Length: > 0 })
            {
                throw new CliException($"{source} {dir}: no {file} in it (an image is a directory with vmlinuz and initrd.img)", 2);
            }
        }
    }

    /// <summary>This very kraken: its executable, plus the entry assembly when the executable is the dotnet host.</summary>
    internal static IReadOnlyList<string> KrakenCommand()
    {
        var exe = Environment.ProcessPath ?? throw new CliException("cannot tell where this kraken executable is");
        // Under the dotnet host, the entry assembly is kraken.dll in the application's directory.
        var dll = Path.Combine(AppContext.BaseDirectory, "kraken.dll");
        return Path.GetFileNameWithoutExtension(exe) == "dotnet" && File.Exists(dll) ? [exe, dll] : [exe];
    }

    /// <summary>A password of letters and digits (IPMI 1.5 allows 16 bytes, and ipmi_sim's configuration has no escapes).</summary>
    private static string BmcPassword() =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 16);

    private void Build(Tools tools, string image, string accel)
    {
        var created = !Directory.Exists(_plan.Directory);
        Directory.CreateDirectory(_plan.Directory);
        _record = new LabRecord
        {
            Name = _plan.Name,
            Directory = _plan.Directory,
            Tier1 = _plan.Tier1Count,
            Leaves = _plan.LeafCount,
            Backup = _plan.Backup,
            Image = image,
            Accel = accel,
            Started = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            CreatedDirectory = created,
        };
        Note(r => r.Files.Add(_paths.Record));

        WriteFiles(tools, image, accel);
        MakeNamespaces();
        MakeFabric();
        StartBmcs(tools);
        MakeManagementLink();
    }

    private void MakeDirectory(string path, UnixFileMode mode)
    {
        Note(r => r.Directories.Add(path));
        Directory.CreateDirectory(path, mode);
    }

    private void WriteFile(string path, string content, UnixFileMode mode)
    {
        NoteFile(path);
        LabSystem.Write(path, content, mode);
    }

    private void WriteFiles(Tools tools, string image, string accel)
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        const UnixFileMode Readable = Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode Executable = Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        const UnixFileMode Directory = Executable | UnixFileMode.UserWrite;

        WriteFile(_paths.ApiToken, SecretFiles.NewSecret(32) + "\n", Private);
        WriteFile(_paths.JoinSecret, SecretFiles.NewSecret(32) + "\n", Private);
        var password = BmcPassword();
        MakeDirectory(_paths.Credentials, PrivateDirectory);
        WriteFile(_paths.BmcCredential, password + "\n", Private);
        WriteFile(_paths.Cluster, LabConfigFiles.ClusterJson(_plan), Readable);
        MakeDirectory(_paths.RootDirectory, Directory);
        WriteFile(_paths.RootConfig, LabConfigFiles.RootConfigJson(_plan, _paths, image), Readable);
        MakeDirectory(_paths.BmcDirectory, PrivateDirectory);
        MakeDirectory(_paths.VmDirectory, Directory);
        foreach (var vm in _plan.Vms)
        {
            MakeDirectory(_paths.Bmc(vm.Name), PrivateDirectory);
            MakeDirectory(_paths.BmcState(vm.Name), PrivateDirectory);
            WriteFile(_paths.LanConf(vm.Name), LabBmcFiles.LanConf(_plan, _paths, vm, password), Private);
            WriteFile(_paths.SimEmu(vm.Name), LabBmcFiles.SimEmu, Readable);
            WriteFile(_paths.VmScript(vm.Name), LabBmcFiles.VmScript(_plan, _paths, vm, tools.Qemu, accel), Executable);
        }
    }

    private void MakeNamespaces()
    {
        foreach (var ns in new[] { _plan.RootNamespace, _plan.FabricNamespace })
        {
            Note(r => r.Namespaces.Add(ns));
            LabSystem.Check("ip", "netns", "add", ns);

            // Tools run with 'ip netns exec' read /etc/netns/NS/ first: keep any of them off the host's resolv.conf.
            var etc = Path.Combine("/etc/netns", ns);
            Note(r => r.NetnsDirectories.Add(etc));
            Directory.CreateDirectory(etc);
            File.WriteAllText(Path.Combine(etc, "resolv.conf"), string.Empty);
            LabSystem.Ip(ns, "link", "set", "lo", "up");
        }
    }

    private void AddLink(string name, string? ns) => Note(r => r.Links.Add(new LabLink(name, ns)));

    private void MakeFabric()
    {
        var fabric = _plan.FabricNamespace;
        foreach (var segment in _plan.Segments)
        {
            AddLink(segment.Bridge, fabric);
            LabSystem.Ip(fabric, "link", "add", segment.Bridge, "type", "bridge");
            foreach (var bmc in segment.BmcAddresses)
            {
                LabSystem.Ip(fabric, "addr", "add", $"{bmc}/{segment.Prefix.ToString(CultureInfo.InvariantCulture)}", "dev", segment.Bridge);
            }

            LabSystem.Ip(fabric, "link", "set", segment.Bridge, "up");
        }

        // The root's segment veth: one end in the root namespace (198.18.0.1), the other a port of the root bridge.
        var root = _plan.Root.Uplink;
        AddLink(_plan.RootSegmentLink, _plan.RootNamespace);
        AddLink(_plan.FabricRootLink, fabric);
        LabSystem.Check("ip", "link", "add", _plan.RootSegmentLink, "netns", _plan.RootNamespace, "address", root.Mac, "type", "veth", "peer", "name", _plan.FabricRootLink, "netns", fabric);
        LabSystem.Ip(_plan.RootNamespace, "addr", "add", $"{root.Address}/{root.Prefix.ToString(CultureInfo.InvariantCulture)}", "dev", _plan.RootSegmentLink);
        LabSystem.Ip(_plan.RootNamespace, "link", "set", _plan.RootSegmentLink, "up");
        LabSystem.Ip(fabric, "link", "set", _plan.FabricRootLink, "master", root.Bridge, "up");

        foreach (var vm in _plan.Vms)
        {
            foreach (var nic in vm.Downlink is { } d ? [vm.Uplink, d] : new[] { vm.Uplink })
            {
                AddLink(nic.Link, fabric);
                LabSystem.Ip(fabric, "tuntap", "add", "dev", nic.Link, "mode", "tap");
                LabSystem.Ip(fabric, "link", "set", nic.Link, "master", nic.Bridge, "up");
            }
        }

        Say($"lab: namespaces {_plan.RootNamespace}, {fabric}; {_plan.Segments.Count} bridges, {_plan.Vms.Sum(v => v.Downlink is null ? 1 : 2)} taps");
    }

    private void StartBmcs(Tools tools)
    {
        // qemu is started by ipmi_sim, not by us: record where its PIDs will be before any BMC can power it on.
        Note(r => r.Vms.AddRange(_plan.Vms.Select(v => new LabVm(v.Name, [_paths.VmStartPidFile(v.Name), _paths.VmPidFile(v.Name)], _paths.VmMarker(v.Name)))));
        foreach (var vm in _plan.Vms)
        {
            StartProcess("bmc", vm.Name, _plan.FabricNamespace,
                [tools.IpmiSim, "-c", _paths.LanConf(vm.Name), "-f", _paths.SimEmu(vm.Name), "-s", _paths.BmcState(vm.Name), "-n"],
                _paths.BmcLog(vm.Name), _paths.BmcPidFile(vm.Name), _paths.LanConf(vm.Name), _paths.Bmc(vm.Name), null);
        }

        var deadline = Stopwatch.StartNew();
        foreach (var vm in _plan.Vms)
        {
            var process = _record!.Processes.First(p => p.Role == "bmc" && p.Name == vm.Name);
            while (!LabNet.IsUdpBound(process.Pid, vm.Bmc!, LabPlan.BmcPort))
            {
                if (!LabSystem.IsAlive(process.Pid, process.StartTime))
                {
                    throw new CliException($"the BMC of {vm.Name} (ipmi_sim) exited at start: {Tail(process.Log)}");
                }

                if (deadline.Elapsed > TimeSpan.FromSeconds(20))
                {
                    throw new CliException($"the BMC of {vm.Name} (ipmi_sim) is not listening on {vm.Bmc}:{LabPlan.BmcPort} after 20 s: {Tail(process.Log)}");
                }

                Thread.Sleep(50);
            }
        }

        Say($"lab: {_plan.Vms.Count()} BMCs (ipmi_sim) listening, user {LabPlan.BmcUser}, password in {_paths.BmcCredential}");
    }

    /// <summary>Records the process (its PID file and marker) before it starts, then its PID and start time.</summary>
    private LabProcess StartProcess(string role, string name, string ns, IReadOnlyList<string> command, string log, string pidFile, string marker, string workingDirectory, IReadOnlyDictionary<string, string?>? environment)
    {
        NoteFile(log);
        NoteFile(pidFile);
        var planned = new LabProcess(role, name, 0, 0, ns, log, pidFile, marker);
        Note(r => r.Processes.Add(planned));
        var (pid, start) = LabSystem.StartDetached(ns, command, log, pidFile, workingDirectory, environment);
        var started = planned with { Pid = pid, StartTime = start };
        Note(r => r.Processes[r.Processes.IndexOf(planned)] = started);
        return started;
    }

    /// <summary>The management veth: host 198.18.255.1/30, root 198.18.255.2/30, where the root's API listens.</summary>
    private void MakeManagementLink()
    {
        if (LabNet.HostAddressesIn(LabPlan.HostManagementAddress, LabPlan.ManagementPrefix) is { Count: > 0 } taken)
        {
            throw new CliException($"{LabPlan.HostManagementAddress}/{LabPlan.ManagementPrefix} (the lab's management link) is already in use on the host: {string.Join(", ", taken)}; another lab may be up (kraken lab status --dir DIR)");
        }

        AddLink(_plan.HostLink, null);
        AddLink(_plan.RootManagementLink, _plan.RootNamespace);
        LabSystem.Check("ip", "link", "add", _plan.HostLink, "type", "veth", "peer", "name", _plan.RootManagementLink, "netns", _plan.RootNamespace);
        LabSystem.Ip(null, "addr", "add", $"{LabPlan.HostManagementAddress}/{LabPlan.ManagementPrefix}", "dev", _plan.HostLink);
        LabSystem.Ip(null, "link", "set", _plan.HostLink, "up");
        LabSystem.Ip(_plan.RootNamespace, "addr", "add", $"{LabPlan.ApiAddress}/{LabPlan.ManagementPrefix}", "dev", _plan.RootManagementLink);
        LabSystem.Ip(_plan.RootNamespace, "link", "set", _plan.RootManagementLink, "up");
    }

    private async Task StartRootAsync(CancellationToken ct)
    {
        // The daemon takes configuration from KRAKEN_<Section>__<Key> variables too: none of ours may leak into it.
        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("KRAKEN_", StringComparison.Ordinal) || k is "NOTIFY_SOCKET" or "JOURNAL_STREAM")
            .ToDictionary(k => k, _ => (string?)null, StringComparer.Ordinal);
        var daemon = StartProcess("root-daemon", "root", _plan.RootNamespace, [.. KrakenCommand(), "serve", "--config", _paths.RootConfig],
            _paths.RootLog, _paths.RootPidFile, _paths.RootConfig, _paths.RootDirectory, environment);
        NoteFile(_paths.RootDatabase);
        NoteFile(_paths.RootDatabase + "-wal");
        NoteFile(_paths.RootDatabase + "-shm");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var started = Stopwatch.StartNew();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (!LabSystem.IsAlive(daemon.Pid, daemon.StartTime))
            {
                throw new CliException($"the root daemon exited at start; {_paths.RootLog}: {Tail(_paths.RootLog)}");
            }

            try
            {
                using var response = await http.GetAsync($"{_plan.ApiUrl}/healthz", ct);
                if (response.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // No answer within the request timeout yet.
            }

            if (started.Elapsed > TimeSpan.FromSeconds(90))
            {
                throw new CliException($"the root daemon's API {_plan.ApiUrl} did not answer within 90 s; {_paths.RootLog}: {Tail(_paths.RootLog)}");
            }

            await Task.Delay(200, ct);
        }

        Say(string.Create(CultureInfo.InvariantCulture, $"lab: root daemon pid {daemon.Pid} in {_plan.RootNamespace}, API {_plan.ApiUrl} ({_clock.Elapsed.TotalSeconds:0.0} s), log {_paths.RootLog}"));
    }

    /// <summary>The last lines of a log, for an error message.</summary>
    internal static string Tail(string path, int lines = 8)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var text = new StreamReader(stream).ReadToEnd().TrimEnd();
            var all = text.Split('\n');
            return all.Length == 0 || text.Length == 0 ? "(empty)" : "\n  " + string.Join("\n  ", all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}
