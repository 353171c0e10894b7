// The files the lab writes: cluster.json through the real state-file importer, the root daemon's configuration
// through the daemon's own validation, ipmi_sim's configuration and the VM start script, and lab.json's round trip.
using System.Runtime.Versioning;
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Lab;
using Kraken.Daemon.Modules;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Microsoft.Extensions.Configuration;

namespace Kraken.Daemon.Tests.Lab;

[SupportedOSPlatform("linux")]
public sealed class LabFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-lab-files-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static StateStore Import(LabPlan plan)
    {
        var store = new StateStore(StateSchema.Default);
        var result = StateFileImporter.Import(store, System.Text.Encoding.UTF8.GetBytes(LabConfigFiles.ClusterJson(plan)));
        Assert.Equal((plan.Nodes.Count, 0), (result.Created, result.Warnings.Count));
        return store;
    }

    private static string Cfg(StateStore store, string id, string url) =>
        store.GetRequired(StateView.Cfg, NodeId.Parse(id, null)).Get(url) is { IsSet: true } v ? v.ToString() : "-";

    [Fact]
    public void The_state_file_imports_with_every_node_wanting_power_on_and_sync()
    {
        var plan = LabPlan.Create(_dir, 2, 2, backup: false);
        var store = Import(plan);

        Assert.Equal(plan.Nodes.Count, store.Count);
        foreach (var n in plan.Nodes)
        {
            Assert.Equal(("POWER_ON", "SYNC", "amd64", n.Name), (Cfg(store, n.Id, "/PhysState"), Cfg(store, n.Id, "/RunState"), Cfg(store, n.Id, "/Arch"), Cfg(store, n.Id, "/Nodename")));
            Assert.Equal(n.ParentId ?? "-", Cfg(store, n.Id, "/ParentId"));
            Assert.Equal(n.Name, Cfg(store, n.Id, "/Extensions/IPv4/Hostname"));
            Assert.Equal((n.Uplink.Mac, n.Uplink.Address, "24", n.Uplink.Gateway ?? "-"), (
                Cfg(store, n.Id, "/Extensions/IPv4/Interfaces/kraken/Mac"), Cfg(store, n.Id, "/Extensions/IPv4/Interfaces/kraken/Ip"),
                Cfg(store, n.Id, "/Extensions/IPv4/Interfaces/kraken/Prefix"), Cfg(store, n.Id, "/Extensions/IPv4/Interfaces/kraken/Gateway")));
        }

        var root = plan.Root;
        Assert.Equal(("198.18.0.1", "-", "-"), (Cfg(store, root.Id, "/Extensions/IPv4/Interfaces/kraken/Ip"), Cfg(store, root.Id, "/Extensions/Power/Driver"), Cfg(store, root.Id, "/Services/pxe/State")));

        var t2 = plan.Node("t2");
        Assert.Equal(("52:54:00:18:02:01", "198.18.2.1", "24"), (Cfg(store, t2.Id, "/Extensions/IPv4/Interfaces/pxe/Mac"), Cfg(store, t2.Id, "/Extensions/IPv4/Interfaces/pxe/Ip"), Cfg(store, t2.Id, "/Extensions/IPv4/Interfaces/pxe/Prefix")));
        Assert.Equal(("RUN", "RUN"), (Cfg(store, t2.Id, "/Services/pxe/State"), Cfg(store, t2.Id, "/Services/power/State")));
        Assert.Equal(("ipmi", "198.18.0.102", "623", "admin", "lab-bmc"), (
            Cfg(store, t2.Id, "/Extensions/Power/Driver"), Cfg(store, t2.Id, "/Extensions/Power/Address"), Cfg(store, t2.Id, "/Extensions/Power/Port"),
            Cfg(store, t2.Id, "/Extensions/Power/User"), Cfg(store, t2.Id, "/Extensions/Power/Credential")));

        var leaf = plan.Node("t2n2");
        Assert.Equal(("ipmi", "198.18.2.102", "-"), (Cfg(store, leaf.Id, "/Extensions/Power/Driver"), Cfg(store, leaf.Id, "/Extensions/Power/Address"), Cfg(store, leaf.Id, "/Services/pxe/State")));
        Assert.Empty(store.GetRequired(StateView.Cfg, NodeId.Parse(leaf.Id, null)).BackupParents);
    }

    [Fact]
    public void With_backup_each_leaf_names_its_backup_parent_in_the_state_file()
    {
        var plan = LabPlan.Create(_dir, 2, 1, backup: true);
        var store = Import(plan);

        Assert.Equal([NodeId.Parse(plan.Node("t2").Id, null)], store.GetRequired(StateView.Cfg, NodeId.Parse(plan.Node("t1n1").Id, null)).BackupParents.ToArray());
        Assert.Equal([NodeId.Parse(plan.Node("t1").Id, null)], store.GetRequired(StateView.Cfg, NodeId.Parse(plan.Node("t2n1").Id, null)).BackupParents.ToArray());
    }

    [Fact]
    public void The_root_configuration_passes_the_daemons_own_validation()
    {
        var plan = LabPlan.Create(_dir, 1, 1, false);
        var paths = new LabPaths(_dir);
        TestDaemon.WriteSecret(paths.ApiToken, "a-lab-api-token-of-enough-length\n");
        TestDaemon.WriteSecret(paths.JoinSecret, "a-lab-join-secret-of-enough-length\n");
        File.WriteAllText(paths.Cluster, LabConfigFiles.ClusterJson(plan));
        Directory.CreateDirectory(paths.Credentials);
        TestDaemon.WriteSecret(paths.BmcCredential, "secret\n");
        var image = Directory.CreateDirectory(Path.Combine(_dir, "image")).FullName;
        var file = Path.Combine(_dir, "kraken.json");
        File.WriteAllText(file, LabConfigFiles.RootConfigJson(plan, paths, image));

        var config = new ConfigurationBuilder().AddJsonFile(file).Build();
        var options = DaemonOptions.Load(config);
        Assert.True(options.IsRoot);
        Assert.Equal(plan.Root.Id, options.NodeId.ToString());
        Assert.Equal(paths.RootDatabase, options.Store.Path);
        Assert.Equal(paths.Cluster, options.Store.Import);

        var pxe = PxeDaemonModule.ReadOptions(config.GetSection(PxeDaemonModule.Section));
        Assert.Equal((plan.RootSegmentLink, "198.18.0.1", image, 8080), (pxe.Interface, pxe.ServerAddress?.ToString(), pxe.BootRoot, pxe.HttpPort));
        var power = PowerSettings.Load(config.GetSection("Modules:Power"), []);
        Assert.Equal(["ipmi"], power.DriverNames);
        Assert.Equal(TimeSpan.FromSeconds(5), power.PollInterval);
        Assert.Equal(paths.Credentials, power.Credentials.Directory);

        // No KernelArgs: the PXE module's default carries kraken.id, kraken.name, kraken.ip, kraken.parent.
        Assert.Null(config["Modules:Pxe:KernelArgs"]);
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        Assert.Equal("http://198.18.255.2:3141", doc.RootElement.GetProperty("Api").GetProperty("Url").GetString());
        Assert.Equal("198.18.0.1:31415", doc.RootElement.GetProperty("Sync").GetProperty("Bind").GetString());
    }

    [Fact]
    public void The_bmc_configuration_and_start_script_name_the_vms_own_addresses_and_files()
    {
        var plan = LabPlan.Create(_dir, 1, 1, false);
        var paths = new LabPaths(_dir);
        var t1 = plan.Node("t1");

        var lan = LabBmcFiles.LanConf(plan, paths, t1, "Pass1234Pass1234");
        Assert.Contains("addr 198.18.0.101 623", lan, StringComparison.Ordinal);
        Assert.Contains($"serial 15 127.0.0.1 {t1.SerialPort} codec VM", lan, StringComparison.Ordinal);
        Assert.Contains($"startcmd \"{paths.VmScript("t1")}\"", lan, StringComparison.Ordinal);
        Assert.Contains("\"admin\" \"Pass1234Pass1234\" admin", lan, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => LabBmcFiles.LanConf(plan, paths, t1, "with \"quote"));

        var script = LabBmcFiles.VmScript(plan, paths, t1, "/usr/bin/qemu-system-x86_64", "tcg");
        var words = script.Split('\n').Select(l => l.Trim().TrimEnd('\\').Trim()).ToList();
        Assert.Equal("#!/bin/sh", words[0]);
        Assert.Contains($"echo $$ > '{paths.VmStartPidFile("t1")}'", words);
        Assert.Contains("'1024'", words);
        Assert.Contains("'tcg'", words);
        Assert.Contains($"'{paths.VmPidFile("t1")}'", words);
        Assert.Contains($"'virtio-net-pci,netdev=up,mac={t1.Uplink.Mac}'", words);
        Assert.Contains($"'tap,id=down,ifname={t1.Downlink!.Link},script=no,downscript=no'", words);
        Assert.True(words.IndexOf($"'virtio-net-pci,netdev=up,mac={t1.Uplink.Mac}'") < words.IndexOf($"'virtio-net-pci,netdev=down,mac={t1.Downlink.Mac},romfile='"), "the uplink must be the first (boot) NIC");

        var leafScript = LabBmcFiles.VmScript(plan, paths, plan.Node("t1n1"), "/usr/bin/qemu-system-x86_64", "kvm");
        Assert.Contains("'512'", leafScript, StringComparison.Ordinal);
        Assert.DoesNotContain("netdev=down", leafScript, StringComparison.Ordinal);

        // sh itself parses the script (syntax only).
        var file = Path.Combine(_dir, "t1.sh");
        File.WriteAllText(file, script);
        Assert.Equal(0, Pxe.Command.Run("sh", ["-n", file]).ExitCode);
    }

    [Fact]
    public void The_lab_record_round_trips_and_a_foreign_file_is_refused()
    {
        var record = new LabRecord
        {
            Name = "k12345",
            Directory = _dir,
            Tier1 = 2,
            Leaves = 3,
            Backup = true,
            Image = "/img",
            Accel = "tcg",
            Started = "2026-01-02T03:04:05.0000000Z",
            Complete = true,
            CreatedDirectory = true,
            Namespaces = ["k12345-root", "k12345-net"],
            Links = [new("k12345-mh", null), new("k12345-br0", "k12345-net")],
            NetnsDirectories = ["/etc/netns/k12345-root"],
            Processes = [
                new("bmc", "t1", 1234, 987654321UL, "k12345-net", "/x/ipmi_sim.log", "/x/ipmi_sim.pid", "/x/lan.conf"),
                new("root-daemon", "root", 0, 0, "k12345-root", "/x/kraken.log", "/x/kraken.pid", "/x/kraken.json"),
            ],
            Vms = [new("t1", ["/x/vm/t1.start.pid", "/x/vm/t1.pid"], "/x/vm/t1.")],
            Files = ["/x/a", "/x/b"],
            Directories = ["/x/vm"],
        };
        var path = Path.Combine(_dir, "lab.json");
        record.Save(path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.False(File.Exists(path + ".tmp"));
        var back = LabRecord.Load(path)!;
        Assert.Equal(record.ToJson(), back.ToJson());
        Assert.Equal(record.Processes, back.Processes);
        Assert.Equal(record.Links, back.Links);
        Assert.Equal(record.Vms[0].PidFiles, back.Vms[0].PidFiles);
        Assert.Equal((record.Name, record.Tier1, record.Leaves, record.Backup, record.Complete), (back.Name, back.Tier1, back.Leaves, back.Backup, back.Complete));

        Assert.Null(LabRecord.Load(Path.Combine(_dir, "missing.json")));
        File.WriteAllText(path, "{\"format\": \"something-else\"}");
        Assert.Contains("is not a lab record", Assert.Throws<CliException>(() => LabRecord.Load(path)).Message, StringComparison.Ordinal);
        File.WriteAllText(path, "{ not json");
        Assert.Contains("is not a lab record", Assert.Throws<CliException>(() => LabRecord.Load(path)).Message, StringComparison.Ordinal);
    }
}
