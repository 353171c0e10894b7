// "kraken lab up|status|down": parses the lab's own options (each error names the argument) and runs the verb.
using System.Globalization;
using System.Runtime.InteropServices;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

internal static class LabCommand
{
    public const string DefaultDirectory = "/var/lib/kraken-lab/default";

    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(900);

    /// <summary>Runs one lab verb (<c>lab up|status|down</c>, parsed); the exit code (0 ok, 1 failed, 2 bad usage, 130 interrupted during up).</summary>
    public static async Task<int> RunAsync(Arguments args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                throw new CliException("the lab needs Linux (network namespaces, taps, qemu)");
            }

            var verb = args.Positional[1];
            var dir = args.Option("--dir") ?? DefaultDirectory;
            if (dir.Length == 0)
            {
                throw new CliException("--dir: empty path", 2);
            }

            var paths = new LabPaths(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            switch (verb)
            {
                case "up":
                    var up = new LabUpOptions(
                        Count(args, "--tier1", 1),
                        Count(args, "--leaves", 1),
                        paths.Directory,
                        args.Option("--image"),
                        args.Flag("--backup"),
                        args.Flag("--wait"),
                        Seconds(args, "--timeout") ?? s_defaultTimeout,
                        args.Flag("--keep"));
                    return await UpAsync(up, stdout, cancellationToken).ConfigureAwait(false);
                case "status":
                    return await new LabStatus(paths, stdout).RunAsync(cancellationToken).ConfigureAwait(false);
                default:
                    return await new LabDown(paths, stdout).RunAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"kraken lab: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync($"kraken lab: {ex.Message}").ConfigureAwait(false);
            if (ex.ExitCode == 2)
            {
                await stderr.WriteLineAsync("run 'kraken lab --help' for usage").ConfigureAwait(false);
            }

            return ex.ExitCode;
        }
    }

    /// <summary>Runs lab up; Ctrl-C or SIGTERM stops it the way a failure does (teardown unless --keep).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static async Task<int> UpAsync(LabUpOptions options, TextWriter stdout, CancellationToken cancellationToken)
    {
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            interrupted.Cancel();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var exit = await new LabUp(options, stdout).RunAsync(interrupted.Token).ConfigureAwait(false);
        return exit != 0 && interrupted.IsCancellationRequested && !cancellationToken.IsCancellationRequested ? 130 : exit;
    }

    private static int Count(Arguments args, string name, int fallback)
    {
        if (args.Option(name) is not { } text)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new CliException($"{name} '{text}' is not a whole number", 2);
    }

    private static TimeSpan? Seconds(Arguments args, string name)
    {
        if (args.Option(name) is not { } text)
        {
            return null;
        }

        return CliOptions.TryParseDuration(text, out var value) && value <= TimeSpan.FromDays(1)
            ? value
            : throw new CliException($"{name} '{text}' is not a positive number of seconds or a duration ({CliOptions.DurationForms}; at most 24h)", 2);
    }
}
