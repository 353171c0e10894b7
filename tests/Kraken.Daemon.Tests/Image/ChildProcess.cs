// A process the image tests start (the native daemon, qemu), its output kept in memory and a file, killed by its PID.
using System.Diagnostics;
using System.Text;

namespace Kraken.Daemon.Tests.Image;

internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();

    private ChildProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything written to standard output and error so far.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    public StreamWriter Input => _process.StandardInput;

    public static ChildProcess Start(string file, IEnumerable<string> args, bool keepInput = false)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("NOTIFY_SOCKET");
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        var child = new ChildProcess(p);
        if (!keepInput)
        {
            p.StandardInput.Close();
        }

        p.OutputDataReceived += (_, e) => child.Append(e.Data);
        p.ErrorDataReceived += (_, e) => child.Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits until the output holds <paramref name="text"/>; false if the process exits or time runs out first.</summary>
    public async Task<bool> WaitForAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (clock.Elapsed > timeout || (_process.HasExited && !Output.Contains(text, StringComparison.Ordinal)))
            {
                // Output read after exit may still be on its way.
                await Task.Delay(200);
                return Output.Contains(text, StringComparison.Ordinal);
            }

            await Task.Delay(50);
        }

        return true;
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>SIGTERM by PID, then SIGKILL if it does not stop in time.</summary>
    public void Terminate(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        if (!_process.WaitForExit(timeout))
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(); // this process only, by its PID
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_gate)
            {
                _output.Append(line).Append('\n');
            }
        }
    }
}
