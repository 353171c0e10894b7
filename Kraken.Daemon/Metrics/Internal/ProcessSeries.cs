// The standard process_* series of Prometheus client libraries, and kraken_build_info, read at scrape time.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Hosting;

namespace Kraken.Daemon.Metrics.Internal;

/// <summary>
/// The series every Prometheus client library exports for its process, under the same names (so the usual
/// dashboards and alerts work): CPU time, resident and virtual memory, open and maximum file descriptors, start
/// time. Read from <c>/proc/self</c> and the runtime when scraped; nothing runs between scrapes.
/// </summary>
internal sealed class ProcessSeries
{
    private readonly double _startTime;
    private readonly string _buildLabels;

    public ProcessSeries()
    {
        using var self = Process.GetCurrentProcess();
        _startTime = new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
        var version = BuildInfo.Version;
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        _buildLabels = string.Join(',',
            $"build=\"{PrometheusNames.EscapeLabelValue(BuildInfo.Kind)}\"",
            $"revision=\"{PrometheusNames.EscapeLabelValue(plus < 0 ? "" : version[(plus + 1)..])}\"",
            $"runtime=\"{PrometheusNames.EscapeLabelValue(Environment.Version.ToString())}\"",
            $"version=\"{PrometheusNames.EscapeLabelValue(plus < 0 ? version : version[..plus])}\"");
    }

    public void Write(PrometheusTextWriter writer)
    {
        writer.Family("kraken_build_info", PrometheusNames.Gauge, "Always 1: this kraken's version, source revision, build (aot, jit, single-file) and .NET runtime as labels.");
        writer.Sample("kraken_build_info", _buildLabels, 1);
        writer.Family("process_cpu_seconds_total", PrometheusNames.Counter, "Total user and system CPU time spent in seconds.");
        writer.Sample("process_cpu_seconds_total", "", Environment.CpuUsage.TotalTime.TotalSeconds);
        if (Memory() is var (virtualBytes, residentBytes))
        {
            writer.Family("process_resident_memory_bytes", PrometheusNames.Gauge, "Resident memory size in bytes.");
            writer.Sample("process_resident_memory_bytes", "", residentBytes);
            writer.Family("process_virtual_memory_bytes", PrometheusNames.Gauge, "Virtual memory size in bytes.");
            writer.Sample("process_virtual_memory_bytes", "", virtualBytes);
        }

        if (OpenFiles() is { } open)
        {
            writer.Family("process_open_fds", PrometheusNames.Gauge, "Number of open file descriptors.");
            writer.Sample("process_open_fds", "", open);
        }

        if (DaemonOptions.OpenFileLimit() is var max and < long.MaxValue)
        {
            writer.Family("process_max_fds", PrometheusNames.Gauge, "Maximum number of open file descriptors.");
            writer.Sample("process_max_fds", "", max);
        }

        writer.Family("process_start_time_seconds", PrometheusNames.Gauge, "Start time of the process since unix epoch in seconds.");
        writer.Sample("process_start_time_seconds", "", _startTime);
    }

    /// <summary>Virtual and resident size from <c>/proc/self/statm</c> (in pages); null off Linux.</summary>
    private static (double Virtual, double Resident)? Memory()
    {
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2
                && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var size)
                && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var resident))
            {
                var page = (double)Environment.SystemPageSize;
                return (size * page, resident * page);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>Entries of <c>/proc/self/fd</c>; null where there is none.</summary>
    private static int? OpenFiles()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            return null;
        }

        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
