// Runs a program (no shell) and returns its exit code and output, or starts one with its output in a log file; reads
// such a log while it is written; kills, by recorded PID, what a test started.
using System.Diagnostics;

namespace Kraken.Daemon.Tests.Pxe;

internal static class Command
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/> (and <paramref name="environment"/> added to this
    /// process's); standard output then error, trimmed. Killed (by its PID) after <paramref name="timeout"/>.
    /// </summary>
    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            p.Kill();
            p.WaitForExit();
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }

        return (p.ExitCode, (output.Result + error.Result).Trim());
    }

    /// <summary>Runs and throws with the output when the exit code is not 0.</summary>
    public static string Check(string file, params string[] args)
    {
        var (exit, output) = Run(file, args, TimeSpan.FromMinutes(5));
        return exit == 0 ? output : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {exit}: {output}");
    }

    /// <summary>
    /// Starts <paramref name="file"/> with <paramref name="args"/> (no shell, without NOTIFY_SOCKET), its standard
    /// output and error appended line by line to <paramref name="log"/>. <paramref name="closeInput"/>: standard
    /// input redirected and closed (qemu must not read the test's terminal). <paramref name="environment"/> is added to
    /// this process's.
    /// </summary>
    public static Process StartLogged(string file, IEnumerable<string> args, string log, bool closeInput = false, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = closeInput, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("NOTIFY_SOCKET");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        if (closeInput)
        {
            p.StandardInput.Close();
        }

        var writer = new StreamWriter(log, append: true) { AutoFlush = true };
        var gate = new Lock();
        void Append(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    writer.WriteLine(line);
                }
            }
        }

        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>A file another process may still be writing (or deleting); empty when it cannot be read.</summary>
    public static string ReadShared(string path)
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

    /// <summary>Kills each process still running, by its own PID only, waits for it, and disposes them all.</summary>
    public static void KillAll(IEnumerable<Process> processes)
    {
        foreach (var p in processes)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill();
                    p.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            p.Dispose();
        }
    }
}
