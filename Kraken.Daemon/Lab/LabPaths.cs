// Every path the lab uses inside its directory (docs/lab.md, "Files in DIR").
namespace Kraken.Daemon.Lab;

internal sealed class LabPaths(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>What the lab made, written as each thing is made (<see cref="LabRecord"/>).</summary>
    public string Record => Path.Combine(Directory, "lab.json");

    public string Cluster => Path.Combine(Directory, "cluster.json");

    public string ApiToken => Path.Combine(Directory, "api-token");

    public string JoinSecret => Path.Combine(Directory, "join-secret");

    public string Timings => Path.Combine(Directory, "timings.json");

    public string Credentials => Path.Combine(Directory, "credentials");

    public string BmcCredential => Path.Combine(Credentials, LabPlan.BmcCredential);

    public string RootDirectory => Path.Combine(Directory, "root");

    public string RootConfig => Path.Combine(RootDirectory, "kraken.json");

    public string RootLog => Path.Combine(RootDirectory, "kraken.log");

    public string RootPidFile => Path.Combine(RootDirectory, "kraken.pid");

    public string RootDatabase => Path.Combine(RootDirectory, "cfg.db");

    public string BmcDirectory => Path.Combine(Directory, "bmc");

    public string VmDirectory => Path.Combine(Directory, "vm");

    /// <summary>Directories whose whole content is the lab's (the lab refuses to start when one exists already).</summary>
    public IEnumerable<string> OwnedDirectories => [Credentials, RootDirectory, BmcDirectory, VmDirectory];

    /// <summary>Files directly in the lab directory (the lab refuses to start when one exists already).</summary>
    public IEnumerable<string> OwnedFiles => [Record, Record + ".tmp", Cluster, ApiToken, JoinSecret, Timings];

    public string Bmc(string node) => Path.Combine(BmcDirectory, node);

    public string LanConf(string node) => Path.Combine(Bmc(node), "lan.conf");

    public string SimEmu(string node) => Path.Combine(Bmc(node), "sim.emu");

    public string BmcState(string node) => Path.Combine(Bmc(node), "state");

    public string BmcLog(string node) => Path.Combine(Bmc(node), "ipmi_sim.log");

    public string BmcPidFile(string node) => Path.Combine(Bmc(node), "ipmi_sim.pid");

    /// <summary>The start command ipmi_sim runs on power on: it execs the VM's qemu.</summary>
    public string VmScript(string node) => Path.Combine(VmDirectory, node + ".sh");

    public string VmSerial(string node) => Path.Combine(VmDirectory, node + ".serial");

    /// <summary>qemu's own <c>-pidfile</c>.</summary>
    public string VmPidFile(string node) => Path.Combine(VmDirectory, node + ".pid");

    /// <summary>The PID the start script writes before it execs qemu (the same process), so no window is unrecorded.</summary>
    public string VmStartPidFile(string node) => Path.Combine(VmDirectory, node + ".start.pid");

    /// <summary>
    /// What every file of this VM starts with (<c>DIR/vm/t1.</c>): both its start script's and its qemu's command line
    /// hold it, and no other VM's does (<c>t1.</c> is not <c>t1n1.</c>).
    /// </summary>
    public string VmMarker(string node) => Path.Combine(VmDirectory, node + ".");

    public string VmLog(string node) => Path.Combine(VmDirectory, node + ".log");
}
