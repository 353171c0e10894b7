// A real kraken daemon process (the built kraken.dll under dotnet), stopped by its recorded PID.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Kraken.Daemon.Tests.Functional;

internal sealed class DaemonProcess : IDisposable
{
    private readonly Process _process;

    private DaemonProcess(Process process, string name, string apiUrl, int syncPort, string log)
    {
        _process = process;
        Name = name;
        ApiUrl = apiUrl;
        SyncPort = syncPort;
        LogPath = log;
        Pid = process.Id;
    }

    public string Name { get; }

    public int Pid { get; }

    public string ApiUrl { get; }

    public int SyncPort { get; }

    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    public static string KrakenDll => Path.Combine(AppContext.BaseDirectory, "kraken.dll");

    /// <summary>A TCP port free on 127.0.0.1 whose UDP twin is free too (the sync protocol binds both).</summary>
    public static int FreePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            using var tcp = new TcpListener(IPAddress.Loopback, 0);
            tcp.Start();
            var port = ((IPEndPoint)tcp.LocalEndpoint).Port;
            try
            {
                using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
                // Taken for UDP; try another.
            }
        }
    }

    /// <summary>Writes a config file for <paramref name="name"/> in <paramref name="directory"/> and starts the daemon.</summary>
    public static DaemonProcess Start(string directory, string name, string nodeId, IReadOnlyList<int> parentPorts, string? storePath = null, string? import = null, int? apiPort = null, int? syncPort = null, IReadOnlyDictionary<string, string>? environment = null, IReadOnlyDictionary<string, object?>? sync = null, IReadOnlyList<string>? prefix = null)
    {
        var api = apiPort ?? FreePort();
        syncPort ??= FreePort();
        var config = new Dictionary<string, object?>
        {
            ["NodeId"] = nodeId,
            ["Api"] = new Dictionary<string, object?> { ["Url"] = $"http://127.0.0.1:{api}", ["Token"] = TestDaemon.Token },
            ["Sync"] = new Dictionary<string, object?>((sync ?? new Dictionary<string, object?>()).Concat(new Dictionary<string, object?>
            {
                ["Bind"] = $"127.0.0.1:{syncPort}",
                ["Parents"] = parentPorts.Select(p => $"127.0.0.1:{p}").ToArray(),
                ["JoinSecret"] = TestDaemon.Secret,
                ["HelloInterval"] = "00:00:00.200",
                ["DeadInterval"] = "00:00:02",
                ["JoinBackoff"] = "00:00:00.100",
                ["JoinTimeout"] = "00:00:02",
            })),
            ["Store"] = new Dictionary<string, object?> { ["Path"] = storePath, ["Import"] = import },
            ["Logging"] = new Dictionary<string, object?> { ["LogLevel"] = new Dictionary<string, object?> { ["Default"] = "Information", ["Microsoft.AspNetCore"] = "Warning" } },
        };
        var configPath = Path.Combine(directory, $"{name}.json");
        File.WriteAllText(configPath, JsonSerializer.Serialize(config));
        return Launch(directory, name, ["--config", configPath], api, syncPort.Value, environment, prefix);
    }

    /// <summary>Starts <c>kraken serve</c> with <paramref name="arguments"/> (a configuration made elsewhere); its API on <paramref name="apiPort"/>.</summary>
    public static DaemonProcess Launch(string directory, string name, IReadOnlyList<string> arguments, int apiPort, int syncPort, IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? prefix = null)
    {
        var log = Path.Combine(directory, $"{name}.log");
        var psi = new ProcessStartInfo(prefix is { Count: > 0 } ? prefix[0] : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        if (prefix is { Count: > 0 })
        {
            // A wrapper such as prlimit runs dotnet itself.
            foreach (var p in prefix.Skip(1))
            {
                psi.ArgumentList.Add(p);
            }

            psi.ArgumentList.Add("dotnet");
        }

        psi.ArgumentList.Add(KrakenDll);
        psi.ArgumentList.Add("serve");
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        psi.Environment.Remove("NOTIFY_SOCKET");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("dotnet did not start");
        var writer = new StreamWriter(log, append: true) { AutoFlush = true };
        var writeLock = new Lock();
        void Append(string? line)
        {
            if (line is not null)
            {
                lock (writeLock)
                {
                    writer.WriteLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Exited += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new DaemonProcess(process, name, $"http://127.0.0.1:{apiPort}", syncPort, log);
    }

    /// <summary>Waits until the API answers /healthz.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{ReadLog()}");
            }

            try
            {
                if ((await http.GetAsync(ApiUrl + "/healthz")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Slow start.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} did not answer within {timeout}:\n{ReadLog()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>SIGKILL by the recorded PID: no shutdown code runs.</summary>
    public void Kill9()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-9", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM by the recorded PID and wait for a graceful exit; the exit code.</summary>
    public int Terminate(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        if (!_process.WaitForExit(timeout))
        {
            Kill9();
        }

        return _process.ExitCode;
    }

    public string ReadLog()
    {
        try
        {
            using var s = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(s).ReadToEnd();
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    public void Dispose()
    {
        Kill9();
        _process.Dispose();
    }
}
