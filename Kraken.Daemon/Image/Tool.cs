// Runs the build machine's programs (apt, dpkg, xz, dotnet) for the image builder, with errors that name the program.
using System.Diagnostics;

namespace Kraken.Daemon.Image;

internal static class Tool
{
    /// <summary>The full path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? Find(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? name : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => System.IO.Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
    }

    /// <summary><paramref name="name"/>'s path, or an error saying which Debian package provides it.</summary>
    public static string Require(string name, string package) =>
        Find(name) ?? throw new ImageBuildException($"{name} not found on PATH (Debian package {package})");

    /// <summary>Runs a program to completion; its exit code and its standard output and error, interleaved as read.</summary>
    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> args, string? workingDirectory = null, Stream? stdout = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        // Tools answer in English whatever the machine's locale, so their messages can be read back.
        psi.Environment["LC_ALL"] = "C";
        using var p = Process.Start(psi) ?? throw new ImageBuildException($"{file} did not start");
        var output = new System.Text.StringBuilder();
        var gate = new Lock();
        void Append(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    output.AppendLine(line);
                }
            }
        }

        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginErrorReadLine();
        if (stdout is not null)
        {
            p.StandardOutput.BaseStream.CopyTo(stdout);
        }
        else
        {
            p.OutputDataReceived += (_, e) => Append(e.Data);
            p.BeginOutputReadLine();
        }

        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(30)))
        {
            p.Kill();
            p.WaitForExit();
            throw new ImageBuildException($"{file} {string.Join(' ', args)} did not finish within {timeout ?? TimeSpan.FromMinutes(30)}");
        }

        p.WaitForExit();
        lock (gate)
        {
            return (p.ExitCode, output.ToString().Trim());
        }
    }

    /// <summary>Runs and returns the output, or throws naming the command and quoting its output.</summary>
    public static string Check(string file, IEnumerable<string> args, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var list = args.ToList();
        var (exit, output) = Run(file, list, workingDirectory, timeout: timeout);
        return exit == 0 ? output : throw new ImageBuildException($"{System.IO.Path.GetFileName(file)} {string.Join(' ', list)} failed (exit {exit}): {Tail(output)}");
    }

    /// <summary>The last lines of a long output: where tools say what went wrong.</summary>
    public static string Tail(string output, int lines = 20)
    {
        var all = output.Split('\n');
        return all.Length <= lines ? output : "...\n" + string.Join('\n', all[^lines..]);
    }
}
