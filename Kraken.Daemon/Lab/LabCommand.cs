// "kraken lab up|status|down": parses the lab's own options (each error names the argument) and runs the verb.
using System.Globalization;
using System.Runtime.InteropServices;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

internal static class LabCommand
{
    public const string DefaultDirectory = "/var/lib/kraken-lab/default";

    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(900);

    /// <summary>Runs one lab verb; the exit code (0 ok, 1 failed, 2 bad usage, 130 interrupted during up).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                throw new CliException("the lab needs Linux (network namespaces, taps, qemu)");
            }

            var verb = args.Length > 0 ? args[0] : throw new CliException("lab needs a verb: up, status or down", 2);
            var options = Parse(args[1..], verb switch
            {
                "up" => ["--tier1", "--leaves", "--dir", "--image", "--timeout"],
                "status" or "down" => ["--dir"],
                _ => throw new CliException($"unknown lab verb '{verb}' (up, status, down)", 2),
            }, verb == "up" ? ["--backup", "--wait", "--keep"] : []);
            var dir = options.GetValueOrDefault("--dir") ?? DefaultDirectory;
            if (dir.Length == 0)
            {
                throw new CliException("--dir: empty path", 2);
            }

            var paths = new LabPaths(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            switch (verb)
            {
                case "up":
                    var up = new LabUpOptions(
                        Count(options, "--tier1", 1),
                        Count(options, "--leaves", 1),
                        paths.Directory,
                        options.GetValueOrDefault("--image"),
                        options.ContainsKey("--backup"),
                        options.ContainsKey("--wait"),
                        Seconds(options, "--timeout") ?? s_defaultTimeout,
                        options.ContainsKey("--keep"));
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
                await stderr.WriteLineAsync("run 'kraken help' for usage").ConfigureAwait(false);
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

    /// <summary>--name value or --name=value for <paramref name="valued"/>, bare --name for <paramref name="flags"/>; anything else is an error.</summary>
    internal static Dictionary<string, string?> Parse(IReadOnlyList<string> args, string[] valued, string[] flags)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            var name = a.StartsWith("--", StringComparison.Ordinal) && eq > 0 ? a[..eq] : a;
            if (valued.Contains(name))
            {
                result[name] = name.Length < a.Length ? a[(eq + 1)..]
                    : i + 1 < args.Count ? args[++i]
                    : throw new CliException($"{name} needs a value", 2);
            }
            else if (flags.Contains(a))
            {
                result[a] = null;
            }
            else
            {
                throw new CliException(a.StartsWith("--", StringComparison.Ordinal) ? $"unknown option {name}" : $"unexpected argument '{a}'", 2);
            }
        }

        return result;
    }

    private static int Count(Dictionary<string, string?> options, string name, int fallback)
    {
        if (options.GetValueOrDefault(name) is not { } text)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new CliException($"{name} '{text}' is not a whole number", 2);
    }

    private static TimeSpan? Seconds(Dictionary<string, string?> options, string name)
    {
        if (options.GetValueOrDefault(name) is not { } text)
        {
            return null;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && s <= 86_400
            ? TimeSpan.FromSeconds(s)
            : throw new CliException($"{name} '{text}' is not a positive number of seconds (at most 86400)", 2);
    }
}
