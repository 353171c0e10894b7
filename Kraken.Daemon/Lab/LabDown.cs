// "kraken lab down" and the teardown of a failed "lab up": undoes what lab.json records, in reverse, and keeps
// going past anything already gone, so it can run any number of times.
using System.Globalization;
using System.Runtime.Versioning;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

[SupportedOSPlatform("linux")]
internal sealed class LabDown(LabPaths paths, TextWriter output)
{
    /// <summary>Removes the lab recorded in the directory; 0 when nothing of it is left (or nothing was recorded).</summary>
    public async Task<int> RunAsync()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new CliException("lab down needs root (it removes network namespaces and links)");
        }

        var record = LabRecord.Load(paths.Record);
        if (record is null)
        {
            await output.WriteLineAsync($"lab: nothing recorded in {paths.Directory} (no {paths.Record}); nothing to remove");
            var name = LabPlan.NameOf(paths.Directory);
            foreach (var ns in new[] { $"{name}-root", $"{name}-net" }.Where(LabSystem.NamespaceExists))
            {
                await output.WriteLineAsync($"lab: note: namespace {ns} exists but is not recorded here; 'ip netns del {ns}' removes it");
            }

            return 0;
        }

        return await TeardownAsync(record) ? 0 : 1;
    }

    /// <summary>Undoes everything in <paramref name="record"/>; true when all of it is gone.</summary>
    public async Task<bool> TeardownAsync(LabRecord record)
    {
        var problems = new List<string>();
        var stopped = new List<string>();

        // The root daemon first (so it powers nothing on again), then the BMCs (so none restarts a VM), then the VMs.
        foreach (var p in Enumerable.Reverse(record.Processes))
        {
            var grace = p.Role == "root-daemon" ? TimeSpan.FromSeconds(10) : TimeSpan.FromSeconds(3);
            foreach (var (pid, start) in Running(p))
            {
                if (await LabSystem.StopAsync(pid, start, grace))
                {
                    stopped.Add($"{p.Role} {p.Name} (pid {pid.ToString(CultureInfo.InvariantCulture)})");
                }

                if (LabSystem.IsAlive(pid, start))
                {
                    problems.Add($"{p.Role} {p.Name} (pid {pid.ToString(CultureInfo.InvariantCulture)}) is still running");
                }
            }
        }

        foreach (var vm in record.Vms)
        {
            foreach (var pid in VmPids(vm))
            {
                if (LabSystem.StartTimeOf(pid) is { } start && await LabSystem.StopAsync(pid, start, TimeSpan.FromSeconds(5)))
                {
                    stopped.Add($"vm {vm.Name} (pid {pid.ToString(CultureInfo.InvariantCulture)})");
                    if (LabSystem.IsAlive(pid, start))
                    {
                        problems.Add($"vm {vm.Name} (pid {pid.ToString(CultureInfo.InvariantCulture)}) is still running");
                    }
                }
            }
        }

        var removedLinks = 0;
        foreach (var link in Enumerable.Reverse(record.Links).Where(l => l.Namespace is null))
        {
            // Links inside a lab namespace go with it; those in the host's must be deleted.
            if (LabSystem.LinkExists(null, link.Name))
            {
                var (exit, text) = LabSystem.Run("ip", ["link", "del", "dev", link.Name]);
                if (exit == 0)
                {
                    removedLinks++;
                }
                else
                {
                    problems.Add($"ip link del {link.Name}: {text}");
                }
            }
        }

        var removedNamespaces = 0;
        foreach (var ns in Enumerable.Reverse(record.Namespaces).Where(LabSystem.NamespaceExists))
        {
            var (_, pids) = LabSystem.Run("ip", ["netns", "pids", ns]);
            if (pids.Length > 0)
            {
                // Processes the lab did not record (it kills by record only) would keep the namespace alive.
                problems.Add($"namespace {ns} still holds processes the lab did not record: {pids.Replace('\n', ' ')}");
            }

            var (exit, text) = LabSystem.Run("ip", ["netns", "del", ns]);
            if (exit == 0)
            {
                removedNamespaces++;
            }
            else
            {
                problems.Add($"ip netns del {ns}: {text}");
            }
        }

        foreach (var dir in Enumerable.Reverse(record.NetnsDirectories))
        {
            Remove(dir, problems);
        }

        var files = 0;
        foreach (var dir in Enumerable.Reverse(record.Directories))
        {
            files += Remove(dir, problems);
        }

        foreach (var file in Enumerable.Reverse(record.Files).Where(f => f != paths.Record))
        {
            files += Remove(file, problems);
        }

        if (problems.Count == 0)
        {
            files += Remove(paths.Record, problems) + Remove(paths.Record + ".tmp", problems);
            if (record.CreatedDirectory && Directory.Exists(paths.Directory) && !Directory.EnumerateFileSystemEntries(paths.Directory).Any())
            {
                Directory.Delete(paths.Directory);
            }
        }

        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"lab {record.Name}: stopped {stopped.Count} process(es), removed {removedNamespaces} namespace(s), {removedLinks} host link(s), {files} file(s) and directories"));
        foreach (var s in stopped)
        {
            await output.WriteLineAsync($"  stopped {s}");
        }

        foreach (var p in problems)
        {
            await output.WriteLineAsync($"lab down: {p}");
        }

        if (problems.Count > 0)
        {
            await output.WriteLineAsync($"lab down: {paths.Record} is kept; run kraken lab down --dir {paths.Directory} again once fixed");
        }

        await output.FlushAsync();
        return problems.Count == 0;
    }

    /// <summary>
    /// A recorded process as it runs now: its recorded PID if that still has the recorded start time, and the PID its
    /// own PID file names if that process's command line holds its marker (a lab up killed before it could record
    /// the PID). Empty when it is not running.
    /// </summary>
    internal static IReadOnlyList<(int Pid, ulong StartTime)> Running(LabProcess process)
    {
        var result = new List<(int, ulong)>();
        if (process.Pid > 1 && LabSystem.IsAlive(process.Pid, process.StartTime))
        {
            result.Add((process.Pid, process.StartTime));
        }

        if (LabSystem.PidFromFile(process.PidFile, process.Marker) is { } pid && pid != process.Pid
            && LabSystem.StartTimeOf(pid) is { } start && LabSystem.IsAlive(pid, start))
        {
            result.Add((pid, start));
        }

        return result;
    }

    /// <summary>The PIDs a VM's files name whose command line is that VM's (a reused PID is someone else's).</summary>
    internal static IEnumerable<int> VmPids(LabVm vm) =>
        vm.PidFiles.Select(f => LabSystem.PidFromFile(f, vm.Marker)).OfType<int>().Distinct();

    /// <summary>Deletes a file or a directory tree if it exists; the number of entries removed.</summary>
    private static int Remove(string path, List<string> problems)
    {
        try
        {
            if (Directory.Exists(path) && !File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint))
            {
                var count = Directory.EnumerateFileSystemEntries(path, "*", SearchOption.AllDirectories).Count() + 1;
                Directory.Delete(path, recursive: true);
                return count;
            }

            if (File.Exists(path) || Path.Exists(path))
            {
                File.Delete(path);
                return 1;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"cannot remove {path}: {e.Message}");
        }

        return 0;
    }
}
