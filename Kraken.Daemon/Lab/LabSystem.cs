// The lab's hands on the machine: runs ip and friends, starts detached processes with their output in a file,
// and stops processes only by recorded PID and start time.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

[SupportedOSPlatform("linux")]
internal static partial class LabSystem
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    /// <summary>Runs <paramref name="file"/> (no shell); exit code and output (standard output, then error), trimmed.</summary>
    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new CliException($"{file} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException($"cannot run {file}: {e.Message}");
        }

        using (p)
        {
            p.StandardInput.Close();
            var output = p.StandardOutput.ReadToEndAsync();
            var error = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(1)))
            {
                p.Kill(); // the process this call started, by its PID
                p.WaitForExit();
                throw new CliException($"{file} {string.Join(' ', args)} did not finish within {(timeout ?? TimeSpan.FromMinutes(1)).TotalSeconds:0} s");
            }

            return (p.ExitCode, (output.Result + error.Result).Trim());
        }
    }

    /// <summary>Runs and fails with the command and its output when the exit code is not 0.</summary>
    public static string Check(string file, params string[] args)
    {
        var (exit, output) = Run(file, args);
        return exit == 0 ? output : throw new CliException($"{file} {string.Join(' ', args)} failed (exit {exit}): {output}");
    }

    /// <summary><c>ip ARGS</c> in namespace <paramref name="ns"/> (null: the host's).</summary>
    public static string Ip(string? ns, params string[] args) =>
        ns is null ? Check("ip", args) : Check("ip", ["-n", ns, .. args]);

    /// <summary>The full path of a program found in PATH, or null.</summary>
    public static string? Which(string program)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(program) ? program : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static bool NamespaceExists(string ns) => File.Exists(Path.Combine("/var/run/netns", ns));

    public static bool LinkExists(string? ns, string link) =>
        Run("ip", ns is null ? ["link", "show", "dev", link] : ["-n", ns, "link", "show", "dev", link]).ExitCode == 0;

    /// <summary>
    /// Starts <paramref name="command"/> inside namespace <paramref name="ns"/> in a session of its own (so a Ctrl-C
    /// of the lab does not reach it), stdin from /dev/null, output appended to <paramref name="log"/>. The shell
    /// writes its PID to <paramref name="pidFile"/> before anything else; then setsid, sh and ip netns exec each exec
    /// the next, so that PID, and the one returned, is the command's own. The PID file covers the moment between
    /// the start and the caller recording the returned PID (a lab up killed right then).
    /// </summary>
    public static (int Pid, ulong StartTime) StartDetached(string ns, IReadOnlyList<string> command, string log, string pidFile, string workingDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo("setsid") { UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var a in (string[])["sh", "-c", "echo $$ > \"$2\"; log=\"$1\"; shift 2; exec \"$@\" >>\"$log\" 2>&1 </dev/null", "kraken-lab", log, pidFile, "ip", "netns", "exec", ns, .. command])
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    psi.Environment.Remove(key);
                }
                else
                {
                    psi.Environment[key] = value;
                }
            }
        }

        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new CliException($"{command[0]} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException($"cannot start {command[0]}: {e.Message}");
        }

        using (p)
        {
            var pid = p.Id;
            return (pid, StartTimeOf(pid) ?? 0);
        }
    }

    /// <summary>
    /// The PID in <paramref name="pidFile"/> if that process's command line holds <paramref name="marker"/> (a path
    /// only the expected process has), else null: a PID reused by someone else is never returned.
    /// </summary>
    public static int? PidFromFile(string pidFile, string marker)
    {
        string text;
        try
        {
            text = File.ReadAllText(pidFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return int.TryParse(text, CultureInfo.InvariantCulture, out var pid) && pid > 1
            && CommandLineOf(pid).Any(a => a.Contains(marker, StringComparison.Ordinal))
            ? pid
            : null;
    }

    /// <summary>Field 22 of /proc/PID/stat (start time in clock ticks after boot); null if there is no such process.</summary>
    public static ulong? StartTimeOf(int pid)
    {
        var fields = StatFields(pid);
        return fields is { Length: > 19 } && ulong.TryParse(fields[19], CultureInfo.InvariantCulture, out var t) ? t : null;
    }

    /// <summary>True when <paramref name="pid"/> runs, is not a zombie, and started at <paramref name="startTime"/>.</summary>
    public static bool IsAlive(int pid, ulong startTime)
    {
        var fields = StatFields(pid);
        return fields is { Length: > 19 } && fields[0] != "Z" && fields[0] != "X"
            && ulong.TryParse(fields[19], CultureInfo.InvariantCulture, out var t) && t == startTime;
    }

    /// <summary>The process's command line arguments (empty when it is gone).</summary>
    public static string[] CommandLineOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>
    /// Stops a recorded process: SIGTERM, then SIGKILL after <paramref name="grace"/>. Does nothing unless the PID
    /// still has the recorded start time (a reused PID is someone else's). True if it was running.
    /// </summary>
    public static async Task<bool> StopAsync(int pid, ulong startTime, TimeSpan grace)
    {
        if (pid <= 1 || !IsAlive(pid, startTime))
        {
            return false;
        }

        _ = Kill(pid, SigTerm);
        var deadline = Stopwatch.StartNew();
        while (IsAlive(pid, startTime))
        {
            if (deadline.Elapsed > grace)
            {
                _ = Kill(pid, SigKill);
                var killed = Stopwatch.StartNew();
                while (IsAlive(pid, startTime) && killed.Elapsed < TimeSpan.FromSeconds(5))
                {
                    await Task.Delay(50).ConfigureAwait(false);
                }

                break;
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Writes a file readable by its owner only (created with that mode, no window).</summary>
    public static void WritePrivate(string path, string content) =>
        Write(path, content, UnixFileMode.UserRead | UnixFileMode.UserWrite);

    public static void Write(string path, string content, UnixFileMode mode)
    {
        using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode });
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }

    /// <summary>The fields of /proc/PID/stat after the command name: [0] is the state, [19] the start time.</summary>
    private static string[]? StatFields(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name is in parentheses and may itself hold blanks or parentheses: split after the last ')'.
        var close = text.LastIndexOf(')');
        return close < 0 ? null : text[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

#pragma warning disable SYSLIB1054 // DllImport keeps the project free of unsafe code.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
