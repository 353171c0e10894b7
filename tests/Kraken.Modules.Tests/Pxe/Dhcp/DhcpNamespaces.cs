// Network namespaces for the DHCP interop tests: a server namespace (198.18.0.1/24) and a client namespace joined
// by a veth pair, optionally with a relay namespace between them (198.18.0.2 upstream, 198.18.1.1 downstream).
// Everything created here is removed on dispose: processes by their PID, namespaces, /etc/netns entries, files.
using System.Diagnostics;
using System.Globalization;
using Kraken.Net.Packets;

namespace Kraken.Modules.Tests.Pxe.Dhcp;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class DhcpNamespaces : IDisposable
{
    private readonly List<Process> _processes = [];
    private readonly List<int> _pids = [];

    public DhcpNamespaces(bool relay = false)
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        ServerNs = $"kdhs-{id}";
        ClientNs = $"kdhc-{id}";
        RelayNs = relay ? $"kdhr-{id}" : null;
        ServerIf = $"kd{id}s";
        ClientIf = $"kd{id}c";
        Directory = Path.Combine(Path.GetTempPath(), $"kraken-dhcp-{id}");
        var random = Convert.ToUInt32(id, 16);
        ClientMac = new MacAddress(0x5254_0000_0000UL | ((ulong)random << 8) | 0x42);
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            Ip("netns", "add", ServerNs);
            Ip("netns", "add", ClientNs);
            System.IO.Directory.CreateDirectory($"/etc/netns/{ClientNs}");
            File.WriteAllText($"/etc/netns/{ClientNs}/resolv.conf", "");
            Ip("-n", ServerNs, "link", "set", "lo", "up");
            Ip("-n", ClientNs, "link", "set", "lo", "up");
            if (RelayNs is null)
            {
                Ip("link", "add", ServerIf, "netns", ServerNs, "type", "veth", "peer", "name", ClientIf, "netns", ClientNs);
            }
            else
            {
                Ip("netns", "add", RelayNs);
                System.IO.Directory.CreateDirectory($"/etc/netns/{RelayNs}");
                File.WriteAllText($"/etc/netns/{RelayNs}/resolv.conf", "");
                Ip("-n", RelayNs, "link", "set", "lo", "up");
                Ip("link", "add", ServerIf, "netns", ServerNs, "type", "veth", "peer", "name", RelayUp, "netns", RelayNs);
                Ip("link", "add", RelayDown, "netns", RelayNs, "type", "veth", "peer", "name", ClientIf, "netns", ClientNs);
                Ip("-n", RelayNs, "addr", "add", "198.18.0.2/24", "dev", RelayUp);
                Ip("-n", RelayNs, "addr", "add", "198.18.1.1/24", "dev", RelayDown);
                Ip("-n", RelayNs, "link", "set", RelayUp, "up");
                Ip("-n", RelayNs, "link", "set", RelayDown, "up");
            }

            Ip("-n", ServerNs, "addr", "add", "198.18.0.1/24", "dev", ServerIf);
            Ip("-n", ServerNs, "link", "set", ServerIf, "up");
            Ip("-n", ClientNs, "link", "set", ClientIf, "address", ClientMac.ToString());
            Ip("-n", ClientNs, "link", "set", ClientIf, "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string ServerNs { get; }

    public string ClientNs { get; }

    public string? RelayNs { get; }

    public string ServerIf { get; }

    public string ClientIf { get; }

    public string RelayUp => ServerIf[..^1] + "u";

    public string RelayDown => ServerIf[..^1] + "d";

    public MacAddress ClientMac { get; }

    /// <summary>A private directory for scripts, lease and PID files.</summary>
    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>Writes an executable shell script.</summary>
    public string Script(string name, string body)
    {
        var path = PathOf(name);
        File.WriteAllText(path, "#!/bin/sh\n" + body);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>Runs a program inside <paramref name="ns"/> to completion (killed by PID after <paramref name="timeout"/>).</summary>
    public (int ExitCode, string Output, TimeSpan Elapsed) Run(string ns, TimeSpan timeout, params string[] command)
    {
        var process = Start(ns, command);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        var watch = Stopwatch.StartNew();
        if (!process.WaitForExit(timeout))
        {
            process.Kill();
            process.WaitForExit();
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result, watch.Elapsed);
    }

    /// <summary>Starts a long-running program inside <paramref name="ns"/>; it is killed at dispose.</summary>
    public Process Start(string ns, params string[] command)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "netns", "exec", ns }.Concat(command))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        _processes.Add(process);
        return process;
    }

    /// <summary>Records a PID (from a daemon's PID file) to kill at dispose.</summary>
    public void KillAtEnd(int pid)
    {
        if (pid > 0)
        {
            _pids.Add(pid);
        }
    }

    /// <summary>Reads KEY=VALUE lines a script wrote.</summary>
    public static Dictionary<string, string> ReadEnvironment(string path) =>
        File.ReadAllLines(path).Where(l => l.Contains('=', StringComparison.Ordinal))
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1].Trim());

    public static void Ip(params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)}: {error}");
        }
    }

    public void Dispose()
    {
        foreach (var pid in _pids)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                process.WaitForExit(5000);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        foreach (var ns in new[] { ServerNs, ClientNs, RelayNs })
        {
            if (ns is null)
            {
                continue;
            }

            try
            {
                Ip("netns", "delete", ns);
            }
            catch (InvalidOperationException)
            {
                // Never created.
            }

            if (System.IO.Directory.Exists($"/etc/netns/{ns}"))
            {
                System.IO.Directory.Delete($"/etc/netns/{ns}", recursive: true);
            }
        }

        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>Reads a PID file a daemon writes after forking (it may be empty for a moment); 0 if none appears.</summary>
    public static int Pid(string pidFile)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                return pid;
            }

            Thread.Sleep(20);
        }

        return 0;
    }
}
