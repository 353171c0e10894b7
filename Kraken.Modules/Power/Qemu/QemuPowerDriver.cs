// The qemu power driver: power on runs a per-node command, status and power off go through QMP.
using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Kraken.Modules.Power.Qemu;

/// <summary>
/// Virtual nodes without a BMC: a node is on while its VM answers QMP on the unix socket named by
/// <c>/Extensions/Power/Address</c>. Power on runs the node's command template (which must open that socket)
/// and waits until the VM answers; power off sends <c>quit</c> and waits until the socket is gone; cycle and
/// reset send <c>system_reset</c>, soft off <c>system_powerdown</c>.
/// </summary>
public sealed class QemuPowerDriver : IPowerDriver
{
    private readonly QemuOptions _options;
    private readonly TimeProvider _time;

    public QemuPowerDriver(QemuOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new QemuOptions();
        _time = time ?? TimeProvider.System;
        _ = Split(_options.CommandTemplate);
    }

    public string Name => _options.Name;

    public async ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (string.IsNullOrEmpty(target.Address))
        {
            throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: no QMP socket path in /Extensions/Power/Address.");
        }

        var ct = cancellationToken;
        var qmp = await QmpClient.TryConnectAsync(target.Address, _options.MaxLineBytes, ct).ConfigureAwait(false);
        try
        {
            var on = qmp is not null && await IsRunningAsync(qmp, ct).ConfigureAwait(false);
            switch (action)
            {
                case PowerAction.Status:
                    return on ? PowerStatus.On : PowerStatus.Off;
                case PowerAction.Off when qmp is not null:
                    await QuitAsync(qmp, target, ct).ConfigureAwait(false);
                    qmp = null;
                    return PowerStatus.Off;
                case PowerAction.Off:
                    return PowerStatus.Off;
                case PowerAction.SoftOff when qmp is not null:
                    await qmp.ExecuteAsync("system_powerdown", ct).ConfigureAwait(false);
                    return PowerStatus.On;
                case PowerAction.SoftOff:
                    return PowerStatus.Off;
                case PowerAction.Cycle or PowerAction.Reset when qmp is not null:
                    await qmp.ExecuteAsync("system_reset", ct).ConfigureAwait(false);
                    return PowerStatus.On;
                default:
                    if (qmp is not null)
                    {
                        // The process is there but stopped (shut down by its guest, say): start it again.
                        await QuitAsync(qmp, target, ct).ConfigureAwait(false);
                        qmp = null;
                    }

                    await StartAsync(target, ct).ConfigureAwait(false);
                    return PowerStatus.On;
            }
        }
        finally
        {
            if (qmp is not null)
            {
                await qmp.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The command line for <paramref name="target"/>: its template with the placeholders filled in.</summary>
    public IReadOnlyList<string> CommandFor(PowerTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var template = target.Nodename is not null && _options.Templates.TryGetValue(target.Nodename, out var t) ? t : _options.CommandTemplate;
        var system = string.IsNullOrEmpty(target.System) ? target.Nodename ?? target.Node.ToString() : target.System;
        return [.. Split(template).Select(a => a
            .Replace("{qmp}", target.Address, StringComparison.Ordinal)
            .Replace("{system}", system, StringComparison.Ordinal)
            .Replace("{node}", target.Node.ToString(), StringComparison.Ordinal)
            .Replace("{nodename}", target.Nodename ?? string.Empty, StringComparison.Ordinal))];
    }

    private static async Task<bool> IsRunningAsync(QmpClient qmp, CancellationToken ct)
    {
        var status = await qmp.ExecuteAsync("query-status", ct).ConfigureAwait(false);
        return status?["status"]?.ToString() is not (null or "shutdown");
    }

    private async Task QuitAsync(QmpClient qmp, PowerTarget target, CancellationToken ct)
    {
        try
        {
            await qmp.ExecuteAsync("quit", ct).ConfigureAwait(false);
        }
        catch (PowerException e) when (e.Kind == PowerErrorKind.Unreachable)
        {
            // qemu may close the socket before its answer arrives: that is the quit we asked for.
        }
        finally
        {
            await qmp.DisposeAsync().ConfigureAwait(false);
        }

        while (await TryConnectQuietlyAsync(target, ct).ConfigureAwait(false))
        {
            await Task.Delay(_options.PollInterval, _time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Whether the VM answers QMP now; a VM that is still starting or already stopping counts as not answering.</summary>
    private async Task<bool> TryConnectQuietlyAsync(PowerTarget target, CancellationToken ct)
    {
        try
        {
            var qmp = await QmpClient.TryConnectAsync(target.Address, _options.MaxLineBytes, ct).ConfigureAwait(false);
            if (qmp is null)
            {
                return false;
            }

            await qmp.DisposeAsync().ConfigureAwait(false);
            return true;
        }
        catch (PowerException e) when (e.Kind == PowerErrorKind.Unreachable)
        {
            return false;
        }
    }

    private async Task StartAsync(PowerTarget target, CancellationToken ct)
    {
        var command = CommandFor(target);
        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in command.Skip(1))
        {
            psi.ArgumentList.Add(arg);
        }

        // A socket file left by a VM that died would make the new one fail to bind.
        if (File.Exists(target.Address))
        {
            File.Delete(target.Address);
        }

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: '{command[0]}' did not start.");
        }
        catch (Win32Exception e)
        {
            throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: cannot run '{command[0]}': {e.Message}.", e);
        }

        using (process)
        {
            process.StandardInput.Close();
            var stderr = new StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                lock (stderr)
                {
                    if (e.Data is not null && stderr.Length < 4096)
                    {
                        stderr.AppendLine(e.Data);
                    }
                }
            };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            while (true)
            {
                if (await TryConnectQuietlyAsync(target, ct).ConfigureAwait(false))
                {
                    return;
                }

                // A daemonizing qemu exits 0 once it runs; any other exit before the socket answers is a failure.
                if (process.HasExited && process.ExitCode != 0)
                {
                    // The parameterless wait also drains the redirected output, so the message has qemu's reason.
                    await process.WaitForExitAsync(ct).ConfigureAwait(false);
                    string text;
                    lock (stderr)
                    {
                        text = stderr.ToString().Trim();
                    }

                    throw new PowerException(PowerErrorKind.Refused, $"{target.Name}: '{command[0]}' exited with {process.ExitCode} before QMP answered: {text}");
                }

                await Task.Delay(_options.PollInterval, _time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Splits a template on spaces, with double quotes grouping; rejects an empty command or an open quote.</summary>
    private static List<string> Split(string template)
    {
        var args = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var c in template ?? string.Empty)
        {
            if (c == '"')
            {
                quoted = !quoted;
                any = true;
            }
            else if (c == ' ' && !quoted)
            {
                if (any)
                {
                    args.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        if (quoted)
        {
            throw new ArgumentException($"qemu command template has an unclosed quote: {template}");
        }

        if (any)
        {
            args.Add(current.ToString());
        }

        return args.Count > 0 ? args : throw new ArgumentException("qemu command template is empty.");
    }
}
