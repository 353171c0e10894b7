// Real labs: kraken lab up builds namespaces, bridges, taps, ipmi_sim BMCs and a root daemon that powers a TCG
// VM through its BMC and PXE-boots it with a stand-in image; lab down leaves nothing behind, also after a failed
// or killed lab up. The tests of one class run one after another: every lab uses the fixed management link.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kraken.Daemon.Lab;
using Kraken.Daemon.Tests.Functional;
using Kraken.Daemon.Tests.Pxe;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Lab;

[Trait("Category", "Network")]
[Trait("Category", "Interop")]
[SupportedOSPlatform("linux")]
public sealed partial class LabTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("kraken-lab-test-").FullName;
    private readonly List<string> _labs = [];
    private readonly List<LabRecord> _records = [];
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            if (!p.HasExited)
            {
                p.Kill(); // a lab up this test started, by its PID
                p.WaitForExit(10_000);
            }

            p.Dispose();
        }

        // The lab's own teardown first; then, should it have failed, what the test saw recorded.
        foreach (var dir in _labs.Where(d => File.Exists(Path.Combine(d, "lab.json"))))
        {
            var (code, text) = Kraken("lab", "down", "--dir", dir);
            output.WriteLine($"cleanup: lab down --dir {dir}: {code}\n{text}");
        }

        foreach (var record in _records)
        {
            foreach (var (pid, start) in record.Processes.SelectMany(LabDown.Running))
            {
                LabSystem.StopAsync(pid, start, TimeSpan.FromSeconds(2)).GetAwaiter().GetResult();
            }

            foreach (var vm in record.Vms)
            {
                foreach (var pid in LabDown.VmPids(vm))
                {
                    if (LabSystem.StartTimeOf(pid) is { } start)
                    {
                        LabSystem.StopAsync(pid, start, TimeSpan.FromSeconds(2)).GetAwaiter().GetResult();
                    }
                }
            }

            foreach (var ns in record.Namespaces.Where(LabSystem.NamespaceExists))
            {
                Command.Run("ip", ["netns", "del", ns]);
            }

            foreach (var link in record.Links.Where(l => l.Namespace is null && LabSystem.LinkExists(null, l.Name)))
            {
                Command.Run("ip", ["link", "del", link.Name]);
            }

            foreach (var etc in record.NetnsDirectories.Where(Directory.Exists))
            {
                Directory.Delete(etc, recursive: true);
            }
        }

        Directory.Delete(_work, recursive: true);
    }

    private string NewLabDirectory(string name)
    {
        var dir = Path.Combine(_work, name);
        _labs.Add(dir);
        return dir;
    }

    [Fact]
    public async Task Lab_up_powers_and_pxe_boots_the_tier1_vm_and_lab_down_leaves_nothing()
    {
        var image = StandInImage.Build(Path.Combine(_work, "image"));
        var dir = NewLabDirectory("lab");
        var plan = LabPlan.Create(dir, 1, 1, backup: false);
        var t1 = plan.Node("t1");
        var leaf = plan.Node("t1n1");

        // --wait cannot end in SYNC with the stand-in image (it never joins): it must time out, report and keep the lab.
        var clock = Stopwatch.StartNew();
        var (up, upOutput) = StartKraken("lab", "up", "--tier1", "1", "--leaves", "1", "--dir", dir, "--image", image, "--wait", "--timeout", "90", "--keep");
        var export = await WaitForLine(upOutput, up, "export KRAKEN_SERVER=", TimeSpan.FromSeconds(90));
        output.WriteLine($"lab up: API after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal($"export KRAKEN_SERVER=http://198.18.255.2:3141 KRAKEN_TOKEN_FILE={dir}/api-token", export);
        var record = Remember(dir);

        // The topology: both namespaces, every link where the plan puts it, the BMCs and the root daemon running.
        Assert.Equal([plan.RootNamespace, plan.FabricNamespace], record.Namespaces);
        Assert.All(record.Namespaces, ns => Assert.True(LabSystem.NamespaceExists(ns), ns));
        Assert.All(record.NetnsDirectories, d => Assert.True(File.Exists(Path.Combine(d, "resolv.conf")), d));
        Assert.True(LabSystem.LinkExists(null, plan.HostLink));
        foreach (var link in new[] { plan.RootManagementLink, plan.RootSegmentLink })
        {
            Assert.True(LabSystem.LinkExists(plan.RootNamespace, link), link);
        }

        foreach (var link in plan.LinkNames().Except([plan.HostLink, plan.RootManagementLink, plan.RootSegmentLink]))
        {
            Assert.True(LabSystem.LinkExists(plan.FabricNamespace, link), link);
        }

        Assert.Contains("198.18.255.2/30", Command.Check("ip", "-n", plan.RootNamespace, "-4", "addr", "show", "dev", plan.RootManagementLink), StringComparison.Ordinal);
        Assert.Contains("198.18.0.1/24", Command.Check("ip", "-n", plan.RootNamespace, "-4", "addr", "show", "dev", plan.RootSegmentLink), StringComparison.Ordinal);
        Assert.Equal(["bmc", "bmc", "root-daemon"], record.Processes.Select(p => p.Role));
        Assert.All(record.Processes, p => Assert.True(LabSystem.IsAlive(p.Pid, p.StartTime), $"{p.Role} {p.Name}"));

        // Until the join step exists, SYNC in Cfg has no path; ask for a boot to COMP instead, through a client verb
        // configured only by the exported variables.
        var (setCode, setText) = Kraken(EnvironmentOf(export), "node", "set", t1.Id, "/RunState=", "/Extensions/Pxe/State=COMP");
        Assert.True(setCode == 0, setText);

        // The root powers the tier-1 VM on through its BMC and PXE-boots it: its kernel gets the node's own arguments.
        var serial = Path.Combine(dir, "vm", "t1.serial");
        var marker = $"{StandInImage.Marker} kraken.id={t1.Id} kraken.name=t1 kraken.mac={t1.Uplink.Mac.ToLowerInvariant()} kraken.ip=198.18.0.11 kraken.net=24";
        while (!ReadShared(serial).Contains(marker, StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(85), $"no marker.\nserial:\n{ReadShared(serial)}\nroot log:\n{ReadShared(Path.Combine(dir, "root", "kraken.log"))}\nlab up:\n{upOutput}");
            await Task.Delay(250);
        }

        output.WriteLine($"marker after {clock.Elapsed.TotalSeconds:0.0} s: {ReadShared(serial).Split('\n').First(l => l.Contains(StandInImage.Marker, StringComparison.Ordinal)).Trim()}");
        var password = File.ReadAllText(Path.Combine(dir, "credentials", "lab-bmc")).Trim();
        Assert.Equal("Chassis Power is on", IpmiTool(plan, t1.Bmc!, password, "chassis", "power", "status"));
        Assert.Equal("Chassis Power is off", IpmiTool(plan, leaf.Bmc!, password, "chassis", "power", "status")); // leaves are their tier-1's to power
        var pxe = "";
        for (var i = 0; i < 60 && pxe != "COMP"; i++)
        {
            pxe = DscValue(t1.Id, "Extensions/Pxe/State");
            await Task.Delay(250);
        }

        Assert.Equal("COMP", pxe);
        Assert.Equal("POWER_ON", DscValue(t1.Id, "PhysState"));
        var vmPid = LabDown.VmPids(record.Vms.Single(v => v.Name == "t1")).Single();

        var (statusCode, status) = Kraken("lab", "status", "--dir", dir);
        output.WriteLine(status);
        Assert.Equal(0, statusCode);
        Assert.Contains("root API http://198.18.255.2:3141: answering", status, StringComparison.Ordinal);
        Assert.Matches($@"(?m)^t1 +tier-1 +root +198\.18\.0\.11 +198\.18\.0\.101 +bmc \d+, vm {vmPid} +POWER_ON/POWER_ON +-/INIT +COMP/COMP$", status);
        Assert.Matches(@"(?m)^t1n1 +leaf +t1 +198\.18\.1\.11 +198\.18\.1\.101 +bmc \d+, vm off +POWER_ON/- +SYNC/- +-/-$", status);
        Assert.Matches($@"(?m)^root +root +- +198\.18\.0\.1 +- +daemon {record.Processes[^1].Pid} ", status);

        // lab up's wait: progress lines, then the timeout with each late node's states and plan; the lab is kept.
        Assert.True(up.WaitForExit(TimeSpan.FromSeconds(100)), $"lab up did not end:\n{upOutput}");
        var text = upOutput.ToString();
        output.WriteLine(text);
        Assert.Equal(1, up.ExitCode);
        Assert.Matches(@"lab: +[\d.]+ s  t1 +PhysState POWER_ON, Pxe COMP, RunState INIT", text);
        Assert.Contains("lab: timed out after 90 s with 1 of 3 nodes SYNC; the others:", text, StringComparison.Ordinal);
        Assert.Contains($"  t1n1 {leaf.Id}: Dsc PhysState -, Pxe -, RunState -", text, StringComparison.Ordinal);
        Assert.Contains("    engine at the root: ", text, StringComparison.Ordinal);
        Assert.Contains("kept as it is (--keep)", text, StringComparison.Ordinal);

        // timings.json: t1's milestones in boot order; nobody reached SYNC but the root.
        using (var timings = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "timings.json"))))
        {
            var nodes = timings.RootElement.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("name").GetString()!, n => n.Clone());
            var boot = new[] { "powerOn", "pxeWait", "pxeInit", "pxeComp" }.Select(k => nodes["t1"].GetProperty(k).GetDouble()).ToArray();
            output.WriteLine($"t1: power on {boot[0]} s, PXE WAIT {boot[1]} s, INIT {boot[2]} s, COMP {boot[3]} s");
            Assert.Equal(boot.Order(), boot);
            Assert.True(boot[0] > 0);
            Assert.Equal(JsonValueKind.Number, nodes["t1"].GetProperty("runInit").ValueKind);
            Assert.Equal(JsonValueKind.Null, nodes["t1"].GetProperty("sync").ValueKind);
            Assert.Equal(JsonValueKind.Number, nodes["root"].GetProperty("sync").ValueKind);
            Assert.Equal(JsonValueKind.Null, nodes["t1n1"].GetProperty("powerOn").ValueKind);
            Assert.Equal(JsonValueKind.Null, timings.RootElement.GetProperty("allSync").ValueKind);
        }

        record = Remember(dir);
        await AssertDownLeavesNothing(dir, record, [vmPid]);
    }

    [Fact]
    public async Task A_lab_up_that_fails_halfway_removes_what_it_made_and_leaves_the_other_lab_alone()
    {
        var image = StandInImage.Build(Path.Combine(_work, "image"));
        var first = NewLabDirectory("first");
        var (code, text) = Kraken("lab", "up", "--dir", first, "--image", image);
        Assert.True(code == 0, text);
        var firstRecord = Remember(first);

        // The second lab's names differ, so its namespaces, bridges, taps and BMCs are made; the management address
        // is the first lab's, so it fails there and must undo all of that.
        var second = NewLabDirectory("second");
        (code, text) = Kraken("lab", "up", "--dir", second, "--image", image, "--tier1", "2", "--leaves", "0");
        output.WriteLine(text);
        Assert.Equal(1, code);
        var firstPlan = LabPlan.Create(first, 1, 1, false);
        Assert.Contains($"198.18.255.1/30 (the lab's management link) is already in use on the host: {firstPlan.HostLink}", text, StringComparison.Ordinal);
        Assert.Contains("lab: 2 BMCs (ipmi_sim) listening", text, StringComparison.Ordinal);
        Assert.Contains("stopped bmc t2 (pid", text, StringComparison.Ordinal);
        var secondPlan = LabPlan.Create(second, 2, 0, false);
        Assert.False(LabSystem.NamespaceExists(secondPlan.RootNamespace));
        Assert.False(LabSystem.NamespaceExists(secondPlan.FabricNamespace));
        Assert.False(Directory.Exists($"/etc/netns/{secondPlan.FabricNamespace}"));
        Assert.False(LabSystem.LinkExists(null, secondPlan.HostLink));
        Assert.False(Directory.Exists(second));
        Assert.Empty(ProcessesMentioning(second));

        // The first lab runs on.
        Assert.All(firstRecord.Processes, p => Assert.True(LabSystem.IsAlive(p.Pid, p.StartTime), $"{p.Role} {p.Name}"));
        Assert.Contains("answering", Kraken("lab", "status", "--dir", first).Output, StringComparison.Ordinal);
        await AssertDownLeavesNothing(first, firstRecord, []);
    }

    [Fact]
    public async Task Lab_down_removes_a_lab_whose_lab_up_was_killed_halfway()
    {
        var image = StandInImage.Build(Path.Combine(_work, "image"));
        var dir = NewLabDirectory("killed");
        var record = Path.Combine(dir, "lab.json");
        var (up, upOutput) = StartKraken("lab", "up", "--dir", dir, "--image", image, "--tier1", "2", "--leaves", "1");
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(record) && LabRecord.Load(record)!.Processes.Any(p => p.Role == "bmc")))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60) && !up.HasExited, $"lab up made no BMC:\n{upOutput}");
            await Task.Delay(20);
        }

        up.Kill(); // SIGKILL: no teardown of its own
        up.WaitForExit();
        var recorded = Remember(dir);
        output.WriteLine($"killed after {recorded.Processes.Count} process(es), {recorded.Links.Count} link(s) recorded:\n{upOutput}");
        Assert.True(recorded.Namespaces.Count > 0);
        Assert.False(recorded.Complete);

        await AssertDownLeavesNothing(dir, recorded, []);
    }

    /// <summary>lab down, then nothing of the lab may be left: namespaces, links, netns dirs, processes, files; a second down is a no-op.</summary>
    private async Task AssertDownLeavesNothing(string dir, LabRecord record, IReadOnlyList<int> vmPids)
    {
        var processes = record.Processes.ToList();
        var (code, text) = Kraken("lab", "down", "--dir", dir);
        output.WriteLine(text);
        Assert.True(code == 0, text);
        Assert.All(record.Namespaces, ns => Assert.False(LabSystem.NamespaceExists(ns), ns));
        Assert.All(record.NetnsDirectories, d => Assert.False(Directory.Exists(d), d));
        Assert.All(record.Links.Where(l => l.Namespace is null), l => Assert.False(LabSystem.LinkExists(null, l.Name), l.Name));
        Assert.All(processes, p => Assert.Empty(LabDown.Running(p)));
        foreach (var pid in vmPids)
        {
            Assert.False(LabSystem.CommandLineOf(pid).Any(a => a.Contains(dir, StringComparison.Ordinal)), $"qemu pid {pid}");
        }

        await Task.Delay(100);
        Assert.Empty(ProcessesMentioning(dir));
        Assert.False(Directory.Exists(dir), Directory.Exists(dir) ? string.Join(", ", Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories)) : "");

        (code, text) = Kraken("lab", "down", "--dir", dir);
        Assert.Equal(0, code);
        Assert.Contains("nothing to remove", text, StringComparison.Ordinal);
    }

    /// <summary>Keeps a copy of the lab's record for the cleanup of last resort.</summary>
    private LabRecord Remember(string dir)
    {
        var record = LabRecord.Load(Path.Combine(dir, "lab.json")) ?? throw new InvalidOperationException($"no lab.json in {dir}");
        _records.Add(record);
        return record;
    }

    /// <summary>Live processes whose command line names <paramref name="path"/> (daemon, ipmi_sim, qemu of a lab there).</summary>
    private static List<string> ProcessesMentioning(string path)
    {
        var found = new List<string>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry), CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId
                && LabSystem.CommandLineOf(pid) is { Length: > 0 } args && args.Any(a => a.Contains(path, StringComparison.Ordinal)))
            {
                found.Add($"{pid}: {string.Join(' ', args)}");
            }
        }

        return found;
    }

    private static string IpmiTool(LabPlan plan, string bmc, string password, params string[] command) =>
        Command.Run("ip", ["netns", "exec", plan.FabricNamespace, "ipmitool", "-I", "lanplus", "-C", "3", "-H", bmc, "-U", "admin", "-P", password, .. command]).Output;

    private static string DscValue(string node, string url)
    {
        var (exit, body) = Command.Run("curl", ["-s", $"http://198.18.255.2:3141/api/v1/dsc/nodes/{node}/values/{url}"]);
        if (exit != 0 || !body.StartsWith('{'))
        {
            return "";
        }

        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
    }

    /// <summary>KRAKEN_SERVER and KRAKEN_TOKEN_FILE from lab up's export line.</summary>
    private static Dictionary<string, string> EnvironmentOf(string export) =>
        ExportPair().Matches(export).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);

    [GeneratedRegex(@"(KRAKEN_\w+)=(\S+)")]
    private static partial Regex ExportPair();

    private static (int Code, string Output) Kraken(params string[] args) => Kraken(null, args);

    /// <summary>Runs <c>kraken ARGS</c> (the built kraken.dll) to its end; its output, standard output first.</summary>
    private static (int Code, string Output) Kraken(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var p = Process.Start(KrakenStartInfo(environment, args))!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill();
            throw new TimeoutException($"kraken {string.Join(' ', args)} did not end");
        }

        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>Starts <c>kraken ARGS</c>; its output lines collect in the returned builder as they come.</summary>
    private (Process Process, StringBuilder Output) StartKraken(params string[] args)
    {
        var p = Process.Start(KrakenStartInfo(null, args))!;
        _processes.Add(p);
        p.StandardInput.Close();
        var text = new StringBuilder();
        void Append(string? line)
        {
            if (line is not null)
            {
                lock (text)
                {
                    text.Append(line).Append('\n');
                }
            }
        }

        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return (p, text);
    }

    private static ProcessStartInfo KrakenStartInfo(IReadOnlyDictionary<string, string>? environment, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add(DaemonProcess.KrakenDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("KRAKEN_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        return psi;
    }

    private static async Task<string> WaitForLine(StringBuilder text, Process process, string prefix, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string current;
            lock (text)
            {
                current = text.ToString();
            }

            if (current.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } line)
            {
                return line;
            }

            Assert.False(process.HasExited, $"kraken exited with {(process.HasExited ? process.ExitCode : 0)}:\n{current}");
            Assert.True(clock.Elapsed < within, $"no line '{prefix}' within {within}:\n{current}");
            await Task.Delay(100);
        }
    }

    private static string ReadShared(string path)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return new StreamReader(s).ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }
}
