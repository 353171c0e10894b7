// One RMCP+ session with one BMC: RAKP set-up, then encrypted, authenticated commands with retransmission.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Kraken.Modules.Power.Ipmi;

/// <summary>
/// A session with one BMC over one connected UDP socket. Not thread-safe: the driver holds <see cref="Lock"/>
/// around every use, so a BMC sees one request at a time from this driver.
/// </summary>
internal sealed class IpmiSession(IPEndPoint endPoint, string user, IpmiOptions options, TimeProvider time) : IDisposable
{
    private const byte NameOnlyLookup = 0x10;

    // IPMI network functions and commands used here (netFn, command).
    private const byte NetFnChassis = 0x00;
    private const byte NetFnApp = 0x06;
    private const byte CmdGetChassisStatus = 0x01;
    private const byte CmdChassisControl = 0x02;
    private const byte CmdSetSessionPrivilege = 0x3B;
    private const byte CmdCloseSession = 0x3C;

    private readonly IpmiCipherSuite _suite = IpmiCipherSuite.FromId(options.CipherSuite);
    private readonly byte[] _receive = new byte[IpmiCodec.MaxDatagram + 1];
    private Socket? _socket;
    private IpmiSessionKeys? _keys;
    private uint _consoleSessionId;
    private uint _bmcSessionId;
    private uint _sequence;
    private byte _rqSeq;
    private byte _tag;
    private long _lastUsed;

    public SemaphoreSlim Lock { get; } = new(1, 1);

    public bool IsActive => _keys is not null && time.GetElapsedTime(_lastUsed) < options.SessionIdleTimeout;

    /// <summary>Sessions opened so far (for tests of reuse).</summary>
    public int Established { get; private set; }

    /// <summary>Opens a new session; the password is read for each one, so a rotated credential takes effect at the next.</summary>
    public async Task OpenAsync(string password, CancellationToken ct)
    {
        Drop();
        var userBytes = Encoding.UTF8.GetBytes(user);
        if (userBytes.Length > 16)
        {
            throw new PowerException(PowerErrorKind.Configuration, $"IPMI user name '{user}' is longer than 16 bytes.");
        }

        var kuid = new byte[20];
        if (Encoding.UTF8.GetByteCount(password) > 20)
        {
            throw new PowerException(PowerErrorKind.Configuration, "IPMI 2.0 passwords are at most 20 bytes; the credential is longer.");
        }

        Encoding.UTF8.GetBytes(password, kuid);
        _socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Connect(endPoint);
        _consoleSessionId = RandomNonZero();

        // Open Session: propose the one cipher suite we want.
        var tag = ++_tag;
        var open = await ExchangeAsync(IpmiCodec.OpenSessionRequest(tag, _consoleSessionId, options.Privilege, _suite), IpmiPayloadType.OpenSessionResponse, tag, ct).ConfigureAwait(false);
        if (open.Length >= 2)
        {
            CheckStatus(open[1], "Open Session");
        }

        if (open.Length < 36)
        {
            IpmiCodec.Throw($"Open Session Response of {open.Length} bytes (36 expected)");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(open.AsSpan(4)) != _consoleSessionId)
        {
            IpmiCodec.Throw("Open Session Response names another console session");
        }

        if (open[16] != _suite.Authentication || open[24] != _suite.Integrity || open[32] != _suite.Confidentiality)
        {
            throw new PowerException(PowerErrorKind.Refused, $"BMC {endPoint} answered with other algorithms than {_suite} (auth {open[16]}, integrity {open[24]}, confidentiality {open[32]}).");
        }

        _bmcSessionId = BinaryPrimitives.ReadUInt32LittleEndian(open.AsSpan(8));

        // RAKP 1/2: exchange randoms; the BMC proves it knows the password.
        var rm = RandomNumberGenerator.GetBytes(16);
        var role = (byte)(options.Privilege | NameOnlyLookup);
        tag = ++_tag;
        var rakp2 = await ExchangeAsync(IpmiCodec.Rakp1(tag, _bmcSessionId, rm, role, userBytes), IpmiPayloadType.Rakp2, tag, ct).ConfigureAwait(false);
        if (rakp2.Length >= 2 && rakp2[1] != 0)
        {
            CheckStatus(rakp2[1], "RAKP 2");
        }

        if (rakp2.Length != 40 + _suite.HashLength)
        {
            IpmiCodec.Throw($"RAKP 2 of {rakp2.Length} bytes ({40 + _suite.HashLength} expected for {_suite})");
        }

        var rc = rakp2[8..24];
        var guid = rakp2[24..40];
        var nameTail = Concat([role, (byte)userBytes.Length], userBytes);
        var expected2 = _suite.Hmac(kuid, Concat(Le(_consoleSessionId), Le(_bmcSessionId), rm, rc, guid, nameTail));
        if (!CryptographicOperations.FixedTimeEquals(expected2, rakp2.AsSpan(40)))
        {
            // Tell the BMC to drop the half-open session (status 0x0F: invalid integrity check value).
            await SendAsync(IpmiCodec.Rakp3(++_tag, 0x0F, _bmcSessionId, []), ct).ConfigureAwait(false);
            throw new PowerException(PowerErrorKind.Authentication, $"BMC {endPoint} rejected the password for user '{user}' (its RAKP 2 key exchange code does not match ours).");
        }

        var sik = _suite.Hmac(kuid, Concat(rm, rc, nameTail));
        // The constants are 20 bytes for every suite (IPMI 2.0 section 13.32), also with SHA-256.
        var k1 = _suite.Hmac(sik, Fill(0x01, 20));
        var k2 = _suite.Hmac(sik, Fill(0x02, 20));

        // RAKP 3/4: we prove we know the password; the BMC confirms the session key.
        tag = ++_tag;
        var auth3 = _suite.Hmac(kuid, Concat(rc, Le(_consoleSessionId), nameTail));
        var rakp4 = await ExchangeAsync(IpmiCodec.Rakp3(tag, 0, _bmcSessionId, auth3), IpmiPayloadType.Rakp4, tag, ct).ConfigureAwait(false);
        if (rakp4.Length >= 2 && rakp4[1] != 0)
        {
            CheckStatus(rakp4[1], "RAKP 4");
        }

        if (rakp4.Length != 8 + _suite.Rakp4Length)
        {
            IpmiCodec.Throw($"RAKP 4 of {rakp4.Length} bytes ({8 + _suite.Rakp4Length} expected for {_suite})");
        }

        var icv = _suite.Hmac(sik, Concat(rm, Le(_bmcSessionId), guid));
        if (!CryptographicOperations.FixedTimeEquals(icv.AsSpan(0, _suite.Rakp4Length), rakp4.AsSpan(8)))
        {
            IpmiCodec.Throw("RAKP 4 integrity check value does not match the session key");
        }

        _keys = new IpmiSessionKeys(_suite, k1, k2[..16]);
        _sequence = 0;
        _lastUsed = time.GetTimestamp();
        Established++;

        // Sessions start at user level; raise to what chassis control needs.
        var (cc, _) = await CommandAsync(NetFnApp, CmdSetSessionPrivilege, [options.Privilege], ct).ConfigureAwait(false);
        if (cc != 0)
        {
            Drop();
            throw new PowerException(PowerErrorKind.Authentication, $"BMC {endPoint} refused privilege level {options.Privilege} for user '{user}' ({IpmiCompletion.Describe(cc)}).");
        }
    }

    public async Task<bool> GetPowerAsync(CancellationToken ct)
    {
        var (cc, data) = await CommandAsync(NetFnChassis, CmdGetChassisStatus, [], ct).ConfigureAwait(false);
        Check(cc, "Get Chassis Status");
        if (data.Length < 3)
        {
            IpmiCodec.Throw($"Get Chassis Status data of {data.Length} bytes (at least 3 expected)");
        }

        return (data[0] & 0x01) != 0;
    }

    /// <summary>Chassis Control: 0 power down, 1 power up, 2 power cycle, 3 hard reset, 5 soft shutdown (ACPI).</summary>
    public async Task ChassisControlAsync(byte control, CancellationToken ct)
    {
        var (cc, _) = await CommandAsync(NetFnChassis, CmdChassisControl, [control], ct).ConfigureAwait(false);
        Check(cc, $"Chassis Control {control}");
    }

    public async Task<(byte Cc, byte[] Data)> CommandAsync(byte netFn, byte command, byte[] data, CancellationToken ct)
    {
        var keys = _keys ?? throw new InvalidOperationException("No active IPMI session.");
        var rqSeq = _rqSeq = (byte)((_rqSeq + 1) & 0x3F);
        var request = IpmiCodec.Request(netFn, command, rqSeq, data);

        // Each try is a new packet (a new session sequence number) carrying the same request.
        var reply = await RequestAsync(
            () => IpmiCodec.SessionPacket(keys, _bmcSessionId, ++_sequence, request),
            d => IpmiCodec.TryReadResponse(IpmiCodec.ReadSessionPacket(d, keys, _consoleSessionId), netFn, command, rqSeq, out var cc, out var body) ? [cc, .. body] : null,
            ct).ConfigureAwait(false);
        _lastUsed = time.GetTimestamp();
        return (reply[0], reply[1..]);
    }

    public void Close()
    {
        if (_keys is not null && _socket is not null)
        {
            try
            {
                // Best effort, no wait for the answer: the BMC frees the session slot sooner than its idle timeout.
                var request = IpmiCodec.Request(NetFnApp, CmdCloseSession, _rqSeq = (byte)((_rqSeq + 1) & 0x3F), Le(_bmcSessionId));
                _socket.Send(IpmiCodec.SessionPacket(_keys, _bmcSessionId, ++_sequence, request));
            }
            catch (SocketException)
            {
                // The BMC is gone; nothing to close.
            }
        }

        Drop();
    }

    public void Dispose()
    {
        Close();
        Lock.Dispose();
    }

    private void Drop()
    {
        _keys?.Dispose();
        _keys = null;
        _socket?.Dispose();
        _socket = null;
    }

    private Task<byte[]> ExchangeAsync(byte[] packet, IpmiPayloadType expected, byte tag, CancellationToken ct) => RequestAsync(
        () => packet,
        d =>
        {
            var payload = IpmiCodec.ReadUnauthenticated(d, expected);
            if (payload.Length == 0)
            {
                IpmiCodec.Throw($"empty {expected} payload");
            }

            return payload[0] == tag ? payload.ToArray() : null;
        },
        ct);

    /// <summary>
    /// Sends a packet and waits for the reply <paramref name="read"/> accepts, sending again after each packet
    /// timeout. <paramref name="read"/> returns null for a datagram that answers something else and throws a
    /// protocol error for a malformed one: a bad datagram is dropped, not fatal, as a good reply may still
    /// come, but its reason is kept so that a call ending without one says what was wrong.
    /// </summary>
    private async Task<byte[]> RequestAsync(Func<byte[]> packet, ReplyReader read, CancellationToken ct)
    {
        string? lastError = null;
        for (var attempt = 0; attempt <= options.PacketRetries; attempt++)
        {
            await SendAsync(packet(), ct).ConfigureAwait(false);
            using var wait = Deadline(ct);
            try
            {
                while (true)
                {
                    var n = await ReceiveAsync(wait.Token).ConfigureAwait(false);
                    try
                    {
                        CheckSize(n);
                        if (read(_receive.AsSpan(0, n)) is { } reply)
                        {
                            return reply;
                        }
                    }
                    catch (PowerException e) when (e.Kind == PowerErrorKind.Protocol)
                    {
                        lastError = e.Message;
                    }
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // This try timed out; send again.
            }
        }

        throw NoReply(lastError);
    }

    private PowerException NoReply(string? lastError) => lastError is null
        ? new PowerException(PowerErrorKind.Timeout, $"BMC {endPoint} did not answer ({options.PacketRetries + 1} tries, {options.PacketTimeout.TotalSeconds:0.###} s each).")
        : new PowerException(PowerErrorKind.Protocol, $"BMC {endPoint} sent no valid reply in {options.PacketRetries + 1} tries; last: {lastError}.");

    private Deadline Deadline(CancellationToken ct) => new(ct, options.PacketTimeout, time);

    private async ValueTask SendAsync(byte[] packet, CancellationToken ct)
    {
        try
        {
            await _socket!.SendAsync(packet, SocketFlags.None, ct).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new PowerException(PowerErrorKind.Unreachable, $"BMC {endPoint}: {e.Message}", e);
        }
    }

    private async ValueTask<int> ReceiveAsync(CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await _socket!.ReceiveAsync(_receive, SocketFlags.None, ct).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // ICMP port unreachable from an earlier send: nobody listens there (yet); keep waiting for this try.
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, ct).ConfigureAwait(false);
            }
        }
    }

    private static void CheckSize(int n)
    {
        if (n > IpmiCodec.MaxDatagram)
        {
            IpmiCodec.Throw($"datagram exceeds the {IpmiCodec.MaxDatagram}-byte maximum");
        }
    }

    private void CheckStatus(byte status, string step)
    {
        if (status == 0)
        {
            return;
        }

        var kind = status is 0x0D or 0x0A or 0x09 or 0x0C or 0x0E or 0x0F ? PowerErrorKind.Authentication : PowerErrorKind.Refused;
        throw new PowerException(kind, $"BMC {endPoint} refused the session at {step} for user '{user}': {IpmiCompletion.DescribeRmcpStatus(status)}.");
    }

    private void Check(byte cc, string what)
    {
        if (cc != 0)
        {
            throw new PowerException(cc == 0xD4 ? PowerErrorKind.Authentication : PowerErrorKind.Refused, $"BMC {endPoint} refused {what}: {IpmiCompletion.Describe(cc)}.");
        }
    }

    private static uint RandomNonZero()
    {
        uint v;
        do
        {
            v = BinaryPrimitives.ReadUInt32LittleEndian(RandomNumberGenerator.GetBytes(4));
        }
        while (v == 0);
        return v;
    }

    private static byte[] Le(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private static byte[] Fill(byte value, int count)
    {
        var b = new byte[count];
        b.AsSpan().Fill(value);
        return b;
    }

    private static byte[] Concat(params ReadOnlySpan<byte[]> parts)
    {
        var total = 0;
        foreach (var p in parts)
        {
            total += p.Length;
        }

        var result = new byte[total];
        var at = 0;
        foreach (var p in parts)
        {
            p.CopyTo(result, at);
            at += p.Length;
        }

        return result;
    }
}

/// <summary>Reads one datagram: the reply wanted, null for another one, or a protocol error.</summary>
internal delegate byte[]? ReplyReader(ReadOnlySpan<byte> datagram);

/// <summary>One try's wait: the caller's token or the packet timeout on the injected clock, whichever comes first.</summary>
internal readonly struct Deadline : IDisposable
{
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationTokenSource _linked;

    public Deadline(CancellationToken ct, TimeSpan timeout, TimeProvider time)
    {
        _timeout = new CancellationTokenSource(timeout, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _timeout.Token);
    }

    public CancellationToken Token => _linked.Token;

    public void Dispose()
    {
        _linked.Dispose();
        _timeout.Dispose();
    }
}
