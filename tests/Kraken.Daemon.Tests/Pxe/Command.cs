// Runs a program (no shell) and returns its exit code and output; used by the PXE boot tests.
using System.Diagnostics;

namespace Kraken.Daemon.Tests.Pxe;

internal static class Command
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>; standard output then error, trimmed. Killed (by its PID) after <paramref name="timeout"/>.</summary>
    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
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
}
