// Runs one kraken command line in-process, as the executable would, and keeps what it printed.
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Tests.Cli;

internal static class CliRun
{
    /// <summary>The exit code and the text written to standard output and error.</summary>
    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CommandLine.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
