// The IPMI 2.0 (RMCP+ lanplus) power driver: one reusable session per BMC and user.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Kraken.Modules.Power.Ipmi;

/// <summary>
/// Power control over IPMI 2.0 RMCP+ (what <c>ipmitool -I lanplus</c> speaks): RAKP session set-up with cipher
/// suite 3 or 17, then Get Chassis Status and Chassis Control. A session per BMC address, port and user is kept
/// and reused until idle for <see cref="IpmiOptions.SessionIdleTimeout"/>; a reused session that stops
/// answering is opened again once within the same call. Requests are sent again after
/// <see cref="IpmiOptions.PacketTimeout"/>, up to <see cref="IpmiOptions.PacketRetries"/> times.
/// </summary>
public sealed class IpmiPowerDriver : IPowerDriver, IDisposable
{
    // Chassis Control values (IPMI 2.0 table 28-4).
    private const byte PowerDown = 0x00;
    private const byte PowerUp = 0x01;
    private const byte PowerCycle = 0x02;
    private const byte HardReset = 0x03;
    private const byte SoftShutdown = 0x05;

    private readonly ICredentialProvider _credentials;
    private readonly IpmiOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, IpmiSession> _sessions = new(StringComparer.Ordinal);

    public IpmiPowerDriver(ICredentialProvider credentials, IpmiOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        _credentials = credentials;
        _options = options ?? new IpmiOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
    }

    public string Name => _options.Name;

    /// <summary>Sessions opened so far, over all BMCs (a reused session does not count again).</summary>
    public int SessionsOpened => _sessions.Values.Sum(s => s.Established);

    public async ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var endPoint = await ResolveAsync(target, cancellationToken).ConfigureAwait(false);
        var user = target.User ?? string.Empty;
        var password = _credentials.GetPassword(target);
        var key = $"{endPoint}|{user}|{target.Credential}";
        var session = _sessions.GetOrAdd(key, _ => new IpmiSession(endPoint, user, _options, _time));
        await session.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var reused = session.IsActive;
            if (!reused)
            {
                await session.OpenAsync(password, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                return await RunAsync(session, action, cancellationToken).ConfigureAwait(false);
            }
            catch (PowerException e) when (reused && e.Kind is PowerErrorKind.Timeout or PowerErrorKind.Protocol)
            {
                // The BMC may have dropped the session (restart, its own idle timeout): one fresh try.
                await session.OpenAsync(password, cancellationToken).ConfigureAwait(false);
                return await RunAsync(session, action, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (PowerException e) when (e.Kind != PowerErrorKind.Configuration)
        {
            session.Close();
            throw new PowerException(e.Kind, $"{target.Name}: {e.Message}", e);
        }
        catch (OperationCanceledException)
        {
            session.Close();
            throw;
        }
        finally
        {
            session.Lock.Release();
        }
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
        {
            session.Dispose();
        }

        _sessions.Clear();
    }

    private async Task<PowerStatus> RunAsync(IpmiSession session, PowerAction action, CancellationToken ct)
    {
        switch (action)
        {
            case PowerAction.Status:
                return await session.GetPowerAsync(ct).ConfigureAwait(false) ? PowerStatus.On : PowerStatus.Off;
            case PowerAction.On:
                await session.ChassisControlAsync(PowerUp, ct).ConfigureAwait(false);
                return await ConfirmAsync(session, true, ct).ConfigureAwait(false);
            case PowerAction.Off:
                await session.ChassisControlAsync(PowerDown, ct).ConfigureAwait(false);
                return await ConfirmAsync(session, false, ct).ConfigureAwait(false);
            case PowerAction.SoftOff:
                await session.ChassisControlAsync(SoftShutdown, ct).ConfigureAwait(false);
                return await session.GetPowerAsync(ct).ConfigureAwait(false) ? PowerStatus.On : PowerStatus.Off;
            default:
                // Cycle and reset are only defined for a powered node; a node that is off is simply powered up.
                var on = await session.GetPowerAsync(ct).ConfigureAwait(false);
                await session.ChassisControlAsync(!on ? PowerUp : action == PowerAction.Cycle ? PowerCycle : HardReset, ct).ConfigureAwait(false);
                return on ? PowerStatus.On : await ConfirmAsync(session, true, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads the chassis state until it shows what the command asked for: a BMC acknowledges Chassis Control
    /// before the power actually changes, and "ok" should mean the node is in that state.
    /// </summary>
    private async Task<PowerStatus> ConfirmAsync(IpmiSession session, bool on, CancellationToken ct)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            if (await session.GetPowerAsync(ct).ConfigureAwait(false) == on)
            {
                return on ? PowerStatus.On : PowerStatus.Off;
            }

            if (_time.GetElapsedTime(started) >= _options.ConfirmTimeout)
            {
                throw new PowerException(PowerErrorKind.Timeout, $"the BMC accepted power {(on ? "on" : "off")} but still reports {(on ? "off" : "on")} after {_options.ConfirmTimeout.TotalSeconds:0.###} s.");
            }

            await Task.Delay(_options.ConfirmInterval, _time, ct).ConfigureAwait(false);
        }
    }

    private async Task<IPEndPoint> ResolveAsync(PowerTarget target, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(target.Address))
        {
            throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: no BMC address in /Extensions/Power/Address.");
        }

        var port = target.Port == 0 ? _options.DefaultPort : target.Port;
        if (IPAddress.TryParse(target.Address, out var ip))
        {
            return new IPEndPoint(ip, port);
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(target.Address, AddressFamily.InterNetwork, ct).ConfigureAwait(false);
            return addresses.Length > 0
                ? new IPEndPoint(addresses[0], port)
                : throw new PowerException(PowerErrorKind.Unreachable, $"{target.Name}: BMC host name '{target.Address}' has no IPv4 address.");
        }
        catch (SocketException e)
        {
            throw new PowerException(PowerErrorKind.Unreachable, $"{target.Name}: BMC host name '{target.Address}' does not resolve ({e.Message}).", e);
        }
    }
}
