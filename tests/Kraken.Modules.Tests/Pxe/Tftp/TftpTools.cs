// Runs the real TFTP clients (tftp-hpa, curl, busybox, atftp) with a deadline; kills only the process it started.
using System.Diagnostics;
using System.Globalization;

namespace Kraken.Modules.Tests.Pxe.Tftp;

internal static class TftpTools
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start");
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in time");
        }

        return (p.ExitCode, ((await output) + (await error)).Trim());
    }

    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>tftp-hpa: RFC 1350 only (512-byte blocks); mode "binary" (octet) or "ascii" (netascii).</summary>
    public static string[] TftpHpa(string host, int port, string remote, string local, string mode = "binary") =>
        ["-m", mode, host, Text(port), "-c", "get", remote, local];

    public static string[] Curl(string host, int port, string remote, string local, int? blockSize) =>
        blockSize is { } b
            ? ["-sS", "--tftp-blksize", Text(b), "-o", local, $"tftp://{host}:{Text(port)}/{remote}"]
            : ["-sS", "-o", local, $"tftp://{host}:{Text(port)}/{remote}"];

    public static string[] Busybox(string host, int port, string remote, string local, int? blockSize) =>
        blockSize is { } b
            ? ["tftp", "-g", "-b", Text(b), "-r", remote, "-l", local, host, Text(port)]
            : ["tftp", "-g", "-r", remote, "-l", local, host, Text(port)];

    public static string[] Atftp(string host, int port, string remote, string local, params string[] options)
    {
        var args = new List<string>();
        foreach (var o in options)
        {
            args.Add("--option");
            args.Add(o);
        }

        args.AddRange(["-g", "-r", remote, "-l", local, host, Text(port)]);
        return [.. args];
    }
}
