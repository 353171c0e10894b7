// Real labs: kraken lab up builds namespaces, bridges, taps, ipmi_sim BMCs and a root daemon; on the real boot
// image every tier boots and joins to SYNC, and survives a leaf's power loss, a freeze and a killed tier-1; lab
// down leaves nothing behind, also after a failed or killed lab up (those use a stand-in image). The tests run one
// after another, with the other VM tests: every lab uses the fixed management link.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kraken.Daemon.Lab;
using Kraken.Daemon.Tests.Functional;
using Kraken.Daemon.Tests.Image;
using Kraken.Daemon.Tests.Pxe;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Lab;

[Collection(NativeKrakenCollection.Name)]
[Trait("Category", "Network")]
[Trait("Category", "Interop")]
[SupportedOSPlatform("linux")]
public sealed partial class LabTests(ImageFixture image, ITestOutputHelper output) : IClassFixture<ImageFixture>, IDisposable
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

    /// <summary>
    /// The whole of it, on the real boot image: the root powers the tier-1 VM through its BMC and PXE-boots it; the
    /// tier-1's own daemon (kraken serve --boot) joins with its bootstrap credential, then powers and boots its leaf,
    /// which joins it; lab up's wait ends with every node SYNC. Then the faults: a leaf switched off behind the
    /// engine's back is power cycled and SYNC again; frozen at the root, nothing acts on it at any tier until the thaw;
    /// a tier-1 VM killed is brought back by the root and its leaf joins it again. lab down leaves nothing.
    /// </summary>
    [Fact]
    public async Task Lab_up_boots_every_tier_to_SYNC_recovers_a_leaf_follows_a_freeze_and_lab_down_leaves_nothing()
    {
        Assert.True(image.ExitCode == 0, image.Errors + image.Output);
        var dir = NewLabDirectory("lab");
        var plan = LabPlan.Create(dir, 1, 1, backup: false);
        var t1 = plan.Node("t1");
        var leaf = plan.Node("t1n1");

        var clock = Stopwatch.StartNew();
        var (up, upOutput) = StartKraken("lab", "up", "--tier1", "1", "--leaves", "1", "--dir", dir, "--image", image.Directory, "--wait", "--timeout", "600", "--keep");
        var export = await WaitForLine(upOutput, up, "export KRAKEN_SERVER=", TimeSpan.FromSeconds(90));
        output.WriteLine($"lab up: API after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal($"export KRAKEN_SERVER=http://198.18.255.2:3141 KRAKEN_TOKEN_FILE={dir}/api-token", export);
        var environment = EnvironmentOf(export);
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

        // Cold iron to SYNC across both tiers: lab up's wait ends with its last line.
        Assert.True(up.WaitForExit(TimeSpan.FromMinutes(11)), $"lab up did not end:\n{upOutput}");
        up.WaitForExit(); // the timed wait does not wait for the redirected output to drain; this one does
        var text = upOutput.ToString();
        output.WriteLine(text);
        Assert.True(up.ExitCode == 0, $"lab up exited {up.ExitCode}:\n{text}\nt1 serial:\n{Tail(Path.Combine(dir, "vm", "t1.serial"))}\nt1n1 serial:\n{Tail(Path.Combine(dir, "vm", "t1n1.serial"))}");
        Assert.Matches(@"^lab: 3 nodes SYNC in \d+(\.\d+)? s$", text.TrimEnd().Split('\n')[^1]);

        // Each tier's milestones in boot order, the leaf's after its parent's SYNC (its parent boots it).
        using (var timings = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "timings.json"))))
        {
            var nodes = timings.RootElement.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("name").GetString()!, n => n.Clone());
            foreach (var name in new[] { "t1", "t1n1" })
            {
                var stages = new[] { "powerOn", "pxeWait", "pxeInit", "pxeComp", "sync" }.Select(k => nodes[name].GetProperty(k).GetDouble()).ToArray();
                output.WriteLine($"{name}: power on {stages[0]} s, PXE WAIT {stages[1]} s, INIT {stages[2]} s, COMP {stages[3]} s, SYNC {stages[4]} s");
                Assert.Equal(stages.Order(), stages);
            }

            Assert.True(nodes["t1n1"].GetProperty("powerOn").GetDouble() >= nodes["t1"].GetProperty("sync").GetDouble() - 1);
            Assert.Equal(JsonValueKind.Number, timings.RootElement.GetProperty("allSync").ValueKind);
        }

        var (statusCode, status) = Kraken("lab", "status", "--dir", dir);
        output.WriteLine(status);
        Assert.Equal(0, statusCode);
        Assert.Contains("root API http://198.18.255.2:3141: answering", status, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^t1 +tier-1 +root +root +198\.18\.0\.11 +198\.18\.0\.101 +bmc \d+, vm \d+ +POWER_ON/POWER_ON +SYNC/SYNC +-/COMP *$", status);
        Assert.Matches(@"(?m)^t1n1 +leaf +t1 +t1 +198\.18\.1\.11 +198\.18\.1\.101 +bmc \d+, vm \d+ +POWER_ON/POWER_ON +SYNC/SYNC +-/COMP *$", status);

        // A leaf switched off behind the engine's back: its parent (the tier-1's daemon) sees it dead or off and
        // power cycles it through its BMC; it boots and joins again.
        var password = File.ReadAllText(Path.Combine(dir, "credentials", "lab-bmc")).Trim();
        var phase = Stopwatch.StartNew();
        Assert.Equal("Chassis Power Control: Down/Off", IpmiTool(plan, leaf.Bmc!, password, "chassis", "power", "off"));
        await Until(() => DscValue(leaf.Id, "RunState") != "SYNC", TimeSpan.FromSeconds(90), "the leaf's loss seen at the root", dir);
        await Until(() => DscValue(leaf.Id, "RunState") == "SYNC", TimeSpan.FromSeconds(240), "the leaf SYNC again", dir);
        Assert.Equal("Chassis Power is on", IpmiTool(plan, leaf.Bmc!, password, "chassis", "power", "status"));
        output.WriteLine($"leaf power loss to SYNC again: {phase.Elapsed.TotalSeconds:0.0} s");

        // Freeze at the root stops every tier: the tier-1 says so, and a leaf switched off stays off until the thaw.
        var (frozenCode, frozen) = Kraken(environment, "freeze");
        Assert.True(frozenCode == 0 && frozen.Trim() == "frozen", frozen);
        await Until(() => Tier1Reconcile(plan, t1) is { } r && r.Contains("\"frozen\":true", StringComparison.Ordinal) && r.Contains("\"cluster\":true", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the tier-1 frozen", dir);
        Assert.Equal("Chassis Power Control: Down/Off", IpmiTool(plan, leaf.Bmc!, password, "chassis", "power", "off"));
        await Until(() => DscValue(leaf.Id, "RunState") != "SYNC", TimeSpan.FromSeconds(90), "the frozen leaf's loss seen at the root", dir);
        await Task.Delay(TimeSpan.FromSeconds(30));
        Assert.Equal("Chassis Power is off", IpmiTool(plan, leaf.Bmc!, password, "chassis", "power", "status"));
        Assert.NotEqual("SYNC", DscValue(leaf.Id, "RunState"));
        var (thawCode, thawed) = Kraken(environment, "thaw");
        Assert.True(thawCode == 0 && thawed.Trim() == "thawed", thawed);
        phase.Restart();
        await Until(() => DscValue(leaf.Id, "RunState") == "SYNC", TimeSpan.FromSeconds(240), "the leaf SYNC after the thaw", dir);
        output.WriteLine($"thaw to leaf SYNC: {phase.Elapsed.TotalSeconds:0.0} s");

        // A tier-1 VM killed: the root sees it gone and powers it on again; its daemon boots, joins, and its leaf
        // (which lost its parent) joins it again.
        var t1Pid = LabDown.VmPids(record.Vms.Single(v => v.Name == "t1")).Single();
        phase.Restart();
        Command.Check("kill", "-9", t1Pid.ToString(CultureInfo.InvariantCulture));
        await Until(() => DscValue(t1.Id, "RunState") != "SYNC", TimeSpan.FromSeconds(90), "the tier-1's loss seen at the root", dir);

        // The root's power reading says t1 is off: its adjacency is down at once, and the leaf it carried is lost
        // (nobody reports it) until the new t1 daemon has it joined again.
        await Until(() => RootLost().Contains(leaf.Id), TimeSpan.FromSeconds(60), "the leaf reported lost at the root", dir);
        var (treeCode, tree) = Kraken(environment, "tree");
        output.WriteLine(tree);
        Assert.Equal(0, treeCode);
        Assert.Matches(@"(?m)^lost: \d+ node\(s\) no live child reports \(last known Dsc kept\): .*t1n1", tree);
        // Done when the new tier-1 daemon has the leaf joined again and the root has nothing lost (the root's last known
        // Dsc of the leaf alone would say SYNC all along).
        await Until(
            () => DscValue(t1.Id, "RunState") == "SYNC" && Tier1Tree(plan, t1) is { } t && t.Contains($"\"peer\":\"{leaf.Id}\"", StringComparison.Ordinal)
                && t.Contains("\"state\":\"Full\"", StringComparison.Ordinal) && DscValue(leaf.Id, "RunState") == "SYNC" && RootLostCount() == 0,
            TimeSpan.FromSeconds(300),
            "both SYNC again, the leaf joined to the new tier-1 daemon",
            dir);
        output.WriteLine($"tier-1 killed to both SYNC again: {phase.Elapsed.TotalSeconds:0.0} s");

        record = Remember(dir);
        var vmPids = record.Vms.SelectMany(LabDown.VmPids).ToList();
        await AssertDownLeavesNothing(dir, record, vmPids);
    }

    /// <summary>
    /// With <c>--backup</c>: each leaf's Cfg names the other tier-1 as backup parent. A tier-1 VM killed, its leaf
    /// joins the backup within its dead interval without a reboot (the root sees it attached there, and nothing of it
    /// lost); once the root has booted the tier-1 again, the leaf fails back to it, still without a reboot.
    /// </summary>
    [Fact]
    public async Task With_backup_parents_a_leaf_moves_to_its_backup_when_its_tier1_dies_and_fails_back_after()
    {
        Assert.True(image.ExitCode == 0, image.Errors + image.Output);
        var dir = NewLabDirectory("backup");
        var plan = LabPlan.Create(dir, 2, 1, backup: true);
        var t1 = plan.Node("t1");
        var t2 = plan.Node("t2");
        var leaf = plan.Node("t1n1");
        Assert.Equal([t2.Id], leaf.BackupParents);

        var (up, upOutput) = StartKraken("lab", "up", "--tier1", "2", "--leaves", "1", "--backup", "--dir", dir, "--image", image.Directory, "--wait", "--timeout", "600", "--keep");
        Assert.True(up.WaitForExit(TimeSpan.FromMinutes(11)), $"lab up did not end:\n{upOutput}");
        up.WaitForExit(); // the timed wait does not wait for the redirected output to drain; this one does
        var text = upOutput.ToString();
        output.WriteLine(text);
        var record = Remember(dir);
        Assert.True(up.ExitCode == 0, $"lab up exited {up.ExitCode}:\n{text}\nt1n1 serial:\n{Tail(Path.Combine(dir, "vm", "t1n1.serial"))}");
        Assert.Matches(@"^lab: 5 nodes SYNC in \d+(\.\d+)? s$", text.TrimEnd().Split('\n')[^1]);
        Assert.Equal(t1.Id, DscValue(leaf.Id, "ParentId"));
        var leafVm = LabDown.VmPids(record.Vms.Single(v => v.Name == "t1n1")).Single();

        // t1 dies: the leaf joins t2 (the kernel arguments named both), keeps running, and is not lost at the root.
        var phase = Stopwatch.StartNew();
        Command.Check("kill", "-9", LabDown.VmPids(record.Vms.Single(v => v.Name == "t1")).Single().ToString(CultureInfo.InvariantCulture));
        // (The leaf's adjacency is minutes old at most: its dead interval is still stretched, up to 80 s, until it
        // has measured its link over 32 hellos; protocol.md section 10.)
        await Until(() => DscValue(leaf.Id, "ParentId") == t2.Id && DscValue(leaf.Id, "RunState") == "SYNC", TimeSpan.FromSeconds(180), "the leaf attached to its backup parent", dir);
        output.WriteLine($"t1 killed to the leaf on t2: {phase.Elapsed.TotalSeconds:0.0} s");
        var (statusCode, status) = Kraken("lab", "status", "--dir", dir);
        output.WriteLine(status);
        Assert.Equal(0, statusCode);
        Assert.Matches(@"(?m)^t1n1 +leaf +t1 +t2 +198\.18\.1\.11 ", status);
        Assert.True(LabSystem.StartTimeOf(leafVm) is not null, "the leaf's VM kept running");

        // The root powers t1 on again; once its daemon is back the leaf returns to its primary (Sync:FailbackInterval).
        await Until(() => DscValue(t1.Id, "RunState") == "SYNC" && DscValue(leaf.Id, "ParentId") == t1.Id && DscValue(leaf.Id, "RunState") == "SYNC" && RootLostCount() == 0, TimeSpan.FromSeconds(300), "the leaf back on t1", dir);
        output.WriteLine($"t1 killed to the leaf back on t1: {phase.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(leafVm, LabDown.VmPids(record.Vms.Single(v => v.Name == "t1n1")).Single());
        Assert.True(LabSystem.StartTimeOf(leafVm) is not null, "the leaf's VM kept running");
        Assert.Single(Command.ReadShared(Path.Combine(dir, "vm", "t1n1.serial")).Split('\n'), l => l.Contains("kraken-image: init", StringComparison.Ordinal)); // booted once

        record = Remember(dir);
        await AssertDownLeavesNothing(dir, record, record.Vms.SelectMany(LabDown.VmPids).ToList());
    }

    private static string? Tier1Tree(LabPlan plan, LabNode t1) =>
        Command.Run("ip", ["netns", "exec", plan.FabricNamespace, "curl", "-s", "--max-time", "3", $"http://{t1.Downlink!.Address}:3141/api/v1/tree"]).Output.Replace(" ", "", StringComparison.Ordinal);

    private static List<string> RootLost()
    {
        var (exit, body) = Command.Run("curl", ["-s", "--max-time", "3", "http://198.18.255.2:3141/api/v1/tree"]);
        return exit == 0 && body.StartsWith('{')
            ? [.. JsonDocument.Parse(body).RootElement.GetProperty("lost").EnumerateArray().Select(l => l.GetProperty("id").GetString()!)]
            : [];
    }

    private static int RootLostCount()
    {
        var (exit, body) = Command.Run("curl", ["-s", "--max-time", "3", "http://198.18.255.2:3141/api/v1/tree"]);
        return exit == 0 && body.StartsWith('{') ? JsonDocument.Parse(body).RootElement.GetProperty("lostCount").GetInt32() : -1;
    }

    private static string? Tier1Reconcile(LabPlan plan, LabNode t1) =>
        Command.Run("ip", ["netns", "exec", plan.FabricNamespace, "curl", "-s", "--max-time", "3", $"http://{t1.Downlink!.Address}:3141/api/v1/reconcile"]).Output;

    private async Task Until(Func<bool> condition, TimeSpan within, string what, string dir)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < within, $"not within {within}: {what}\nroot log:\n{Tail(Path.Combine(dir, "root", "kraken.log"))}\nt1 serial:\n{Tail(Path.Combine(dir, "vm", "t1.serial"))}\nt1n1 serial:\n{Tail(Path.Combine(dir, "vm", "t1n1.serial"))}");
            await Task.Delay(500);
        }

        output.WriteLine($"{what}: {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static string Tail(string path, int lines = 60) => string.Join('\n', Command.ReadShared(path).Split('\n').TakeLast(lines));

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
}
