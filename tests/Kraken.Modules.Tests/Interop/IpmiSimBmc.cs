// An OpenIPMI ipmi_sim BMC on loopback for interop tests: power state is "the start command's process is alive".
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kraken.Modules.Tests.Interop;

/// <summary>
/// Starts <c>ipmi_sim</c> with a LAN channel on 127.0.0.1 and a free port, user <see cref="User"/> with
/// <see cref="Password"/> at administrator level, and a start command that records its PID. Disposal kills
/// the simulator and the "VM" by their recorded PIDs and removes the directory.
/// </summary>
internal sealed class IpmiSimBmc : IDisposable
{
    public const string User = "admin";
    public const string Password = "kraken-secret";

    private readonly Process _process;

    public IpmiSimBmc()
    {
        Directory = Path.Combine(Path.GetTempPath(), $"kraken-ipmisim-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "state"));
        Port = FreeUdpPort();
        var serial = FreeTcpPort();
        var vm = Path.Combine(Directory, "vm.sh");
        File.WriteAllText(vm, $"#!/bin/sh\necho $$ > {Directory}/vm.pid\nexec sleep 100000\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(vm, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        File.WriteAllText(Path.Combine(Directory, "lan.conf"), $"""
            name "kraken{Port}"
            set_working_mc 0x20
              startlan 1
                addr 127.0.0.1 {Port}
                priv_limit admin
                allowed_auths_callback none md2 md5 straight
                allowed_auths_user none md2 md5 straight
                allowed_auths_operator none md2 md5 straight
                allowed_auths_admin none md2 md5 straight
                guid a123456789abcdefa123456789abcdef
              endlan
              serial 15 127.0.0.1 {serial} codec VM
              startcmd "{vm}"
              user 1 true  ""        "test" user     10       none md2 md5 straight
              user 2 true  "{User}"  "{Password}" admin    10       none md2 md5 straight
            """);
        File.WriteAllText(Path.Combine(Directory, "sim.emu"), "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n");
        var psi = new ProcessStartInfo("ipmi_sim")
        {
            WorkingDirectory = Directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-c", "lan.conf", "-f", "sim.emu", "-s", Path.Combine(Directory, "state"), "-n" })
        {
            psi.ArgumentList.Add(a);
        }

        _process = Process.Start(psi) ?? throw new InvalidOperationException("ipmi_sim did not start");
        _process.StandardOutput.ReadLineAsync();
        WaitListening();
    }

    public string Directory { get; }

    public int Port { get; }

    public bool VmRunning => ReadVmPid() is { } pid && IsAlive(pid);

    /// <summary>Runs ipmitool against this BMC and returns its standard output (and error).</summary>
    public string IpmiTool(int cipherSuite, string password, params string[] command) =>
        ExternalTool.IpmiTool(Port, cipherSuite, User, password, command);

    /// <summary>Stops the simulator (its BMC stops answering) but keeps the directory for <see cref="Dispose"/>.</summary>
    public void Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5_000);
        }
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
        if (ReadVmPid() is { } pid && IsAlive(pid))
        {
            using var vm = Process.GetProcessById(pid);
            vm.Kill();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is harmless.
        }
    }

    private int? ReadVmPid()
    {
        var file = Path.Combine(Directory, "vm.pid");
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out var pid) ? pid : null;
    }

    private static bool IsAlive(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat))
        {
            return false;
        }

        try
        {
            // A zombie ("Z") has exited: ipmi_sim reaps it later.
            var text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)..].StartsWith('Z') is false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private void WaitListening()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"ipmi_sim exited with {_process.ExitCode}: {_process.StandardError.ReadToEnd()}");
            }

            if (File.ReadAllText("/proc/net/udp").Contains($":{Port:X4} ", StringComparison.Ordinal))
            {
                return;
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException($"ipmi_sim is not listening on UDP {Port} after 10 s");
    }

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static int FreeTcpPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
