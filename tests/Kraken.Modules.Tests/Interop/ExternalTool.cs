// Runs an independent client (ipmitool, redfishtool) and returns what it printed.
using System.Diagnostics;
using System.Globalization;

namespace Kraken.Modules.Tests.Interop;

internal static class ExternalTool
{
    /// <summary>Runs <paramref name="tool"/> with <paramref name="args"/> (no shell); standard output then error, trimmed.</summary>
    public static (int ExitCode, string Output) Run(string tool, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start");
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            throw new TimeoutException($"{tool} did not finish within 30 s");
        }

        return (p.ExitCode, (output.Result + error.Result).Trim());
    }

    /// <summary>
    /// <c>ipmitool -I lanplus -C suite</c> against 127.0.0.1:port; three tries of 2 s per request, so a loaded machine's
    /// late reply (to the closing of the session, say) does not add "Error: no response" to the output.
    /// </summary>
    public static string IpmiTool(int port, int cipherSuite, string user, string password, params string[] command) =>
        Run("ipmitool", new[] { "-I", "lanplus", "-C", Text(cipherSuite), "-H", "127.0.0.1", "-p", Text(port), "-U", user, "-P", password, "-R", "3", "-N", "2" }.Concat(command)).Output;

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
