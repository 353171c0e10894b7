// A small RMCP+ BMC on loopback (cipher suites 3 and 17), so that ipmitool can check suite 17, which
// ipmi_sim does not offer, and our driver can then be checked against a BMC ipmitool accepts.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Kraken.Modules.Power.Ipmi;

namespace Kraken.Modules.Tests.Interop;

/// <summary>
/// Answers Get Channel Authentication Capabilities (IPMI 1.5 framing), Open Session, RAKP 1 and 3 for one
/// user, then Set Session Privilege Level, Get Chassis Status, Chassis Control and Close Session inside the
/// session. The BMC-side computations follow IPMI 2.0 section 13.31-13.32 and are written here separately
/// from the driver's console side.
/// </summary>
internal sealed class TestBmc : IDisposable
{
    public const string User = "admin";
    public const string Password = "bmc-secret-17";

    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly byte[] _guid = RandomNumberGenerator.GetBytes(16);
    private readonly Dictionary<uint, Session> _sessions = [];

    public TestBmc()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public bool PowerOn { get; private set; }

    /// <summary>Cipher suites seen in Open Session requests, in order.</summary>
    public List<int> Suites { get; } = [];

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _loop.Wait(2000);
        }
        catch (AggregateException)
        {
            // The loop ends with the socket.
        }

        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var reply = Handle(buffer.AsSpan(0, r.ReceivedBytes));
            if (reply is not null)
            {
                await _socket.SendToAsync(reply, r.RemoteEndPoint);
            }
        }
    }

    private byte[]? Handle(ReadOnlySpan<byte> d)
    {
        if (d.Length < 16 || d[0] != 0x06 || d[3] != 0x07)
        {
            return null;
        }

        if (d[4] == 0x00)
        {
            return Ipmi15(d);
        }

        var type = (IpmiPayloadType)(d[5] & 0x3F);
        var sessionId = BinaryPrimitives.ReadUInt32LittleEndian(d[6..]);
        switch (type)
        {
            case IpmiPayloadType.OpenSessionRequest:
                return OpenSession(IpmiCodec.ReadUnauthenticated(d, type));
            case IpmiPayloadType.Rakp1:
                return Rakp1(IpmiCodec.ReadUnauthenticated(d, type));
            case IpmiPayloadType.Rakp3:
                return Rakp3(IpmiCodec.ReadUnauthenticated(d, type));
            case IpmiPayloadType.IpmiMessage when _sessions.TryGetValue(sessionId, out var s) && s.Keys is not null:
                var request = IpmiCodec.ReadSessionPacket(d, s.Keys, sessionId);
                var response = Command(s, request);
                return IpmiCodec.SessionPacket(s.Keys, s.ConsoleId, ++s.Sequence, response);
            default:
                return null;
        }
    }

    /// <summary>Get Channel Authentication Capabilities before any session: says "IPMI 2.0 supported".</summary>
    private static byte[]? Ipmi15(ReadOnlySpan<byte> d)
    {
        var message = d[14..(14 + d[13])];
        if (message.Length < 7 || message[5] != 0x38)
        {
            return null;
        }

        // Channel 1; auth types: IPMI 2.0 extended (0x80) + none; per-message auth off; IPMI 2.0 supported (0x02).
        var response = Response(message, 0x00, [0x01, 0x81, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00]);
        var packet = new byte[14 + response.Length];
        packet[0] = 0x06;
        packet[2] = 0xFF;
        packet[3] = 0x07;
        packet[13] = (byte)response.Length;
        response.CopyTo(packet, 14);
        return packet;
    }

    private byte[] OpenSession(ReadOnlySpan<byte> p)
    {
        var suite = (p[12], p[20], p[28]) switch
        {
            (1, 1, 1) => IpmiCipherSuite.Suite3,
            (3, 4, 1) => IpmiCipherSuite.Suite17,
            _ => null,
        };
        var reply = new byte[36];
        reply[0] = p[0];
        p.Slice(4, 4).CopyTo(reply.AsSpan(4));
        if (suite is null)
        {
            reply[1] = 0x11;
            return IpmiCodec.Unauthenticated(IpmiPayloadType.OpenSessionResponse, reply.AsSpan(0, 8));
        }

        Suites.Add(suite.Id);
        var session = new Session
        {
            Suite = suite,
            ConsoleId = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
            BmcId = (uint)Random.Shared.Next(1, int.MaxValue),
        };
        _sessions[session.BmcId] = session;
        reply[2] = 0x04;
        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(8), session.BmcId);
        p.Slice(8, 24).CopyTo(reply.AsSpan(12));
        return IpmiCodec.Unauthenticated(IpmiPayloadType.OpenSessionResponse, reply);
    }

    private byte[]? Rakp1(ReadOnlySpan<byte> p)
    {
        if (!_sessions.TryGetValue(BinaryPrimitives.ReadUInt32LittleEndian(p[4..]), out var s))
        {
            return null;
        }

        s.Rm = p.Slice(8, 16).ToArray();
        s.Role = p[24];
        s.UserName = p.Slice(28, p[27]).ToArray();
        var reply = new byte[40 + s.Suite.HashLength];
        reply[0] = p[0];
        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(4), s.ConsoleId);
        if (Encoding.ASCII.GetString(s.UserName) != User)
        {
            reply[1] = 0x0D;
            return IpmiCodec.Unauthenticated(IpmiPayloadType.Rakp2, reply.AsSpan(0, 8));
        }

        s.Rc = RandomNumberGenerator.GetBytes(16);
        s.Rc.CopyTo(reply, 8);
        _guid.CopyTo(reply, 24);

        // Key exchange code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm).
        using var data = new MemoryStream();
        data.Write(Le(s.ConsoleId));
        data.Write(Le(s.BmcId));
        data.Write(s.Rm);
        data.Write(s.Rc);
        data.Write(_guid);
        data.WriteByte(s.Role);
        data.WriteByte((byte)s.UserName.Length);
        data.Write(s.UserName);
        Hmac(s.Suite, Kuid(), data.ToArray()).CopyTo(reply, 40);
        return IpmiCodec.Unauthenticated(IpmiPayloadType.Rakp2, reply);
    }

    private byte[]? Rakp3(ReadOnlySpan<byte> p)
    {
        if (!_sessions.TryGetValue(BinaryPrimitives.ReadUInt32LittleEndian(p[4..]), out var s) || s.Rc is null)
        {
            return null;
        }

        var reply = new byte[8 + s.Suite.Rakp4Length];
        reply[0] = p[0];
        BinaryPrimitives.WriteUInt32LittleEndian(reply.AsSpan(4), s.ConsoleId);
        var tail = new byte[2 + s.UserName.Length];
        tail[0] = s.Role;
        tail[1] = (byte)s.UserName.Length;
        s.UserName.CopyTo(tail, 2);
        var expected = Hmac(s.Suite, Kuid(), [.. s.Rc, .. Le(s.ConsoleId), .. tail]);
        if (p[1] != 0 || p.Length != 8 + expected.Length || !CryptographicOperations.FixedTimeEquals(expected, p[8..]))
        {
            reply[1] = 0x0F;
            _sessions.Remove(s.BmcId);
            return IpmiCodec.Unauthenticated(IpmiPayloadType.Rakp4, reply.AsSpan(0, 8));
        }

        var sik = Hmac(s.Suite, Kuid(), [.. s.Rm, .. s.Rc, .. tail]);
        // K1 and K2 are HMACs of 20-byte constants (Const1 = 0x01 x 20, Const2 = 0x02 x 20) whatever the hash.
        var k1 = Hmac(s.Suite, sik, Enumerable.Repeat((byte)1, 20).ToArray());
        var k2 = Hmac(s.Suite, sik, Enumerable.Repeat((byte)2, 20).ToArray());
        s.Keys = new IpmiSessionKeys(s.Suite, k1, k2[..16]);
        Hmac(s.Suite, sik, [.. s.Rm, .. Le(s.BmcId), .. _guid]).AsSpan(0, s.Suite.Rakp4Length).CopyTo(reply.AsSpan(8));
        return IpmiCodec.Unauthenticated(IpmiPayloadType.Rakp4, reply);
    }

    private byte[] Command(Session s, byte[] m)
    {
        var netFn = (byte)(m[1] >> 2);
        var cmd = m[5];
        var data = m.AsSpan(6, m.Length - 7);
        switch ((netFn, cmd))
        {
            case (0x06, 0x01):
                // Get Device ID (ipmitool asks at the end of a session): device 0x20, IPMI 2.0, no vendor.
                return Response(m, 0x00, [0x20, 0x01, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
            case (0x06, 0x3B):
                return Response(m, 0x00, [data[0]]);
            case (0x06, 0x3C):
                _sessions.Remove(s.BmcId);
                return Response(m, 0x00, []);
            case (0x00, 0x01):
                return Response(m, 0x00, [(byte)(PowerOn ? 0x01 : 0x00), 0x00, 0x00, 0x00]);
            case (0x00, 0x02) when data.Length == 1 && data[0] <= 3:
                PowerOn = data[0] != 0;
                return Response(m, 0x00, []);
            default:
                return Response(m, 0xC1, []);
        }
    }

    private static byte[] Response(ReadOnlySpan<byte> request, byte cc, byte[] data)
    {
        var r = new byte[8 + data.Length];
        r[0] = request[3];
        r[1] = (byte)((((request[1] >> 2) | 1) << 2) | (request[4] & 0x03));
        r[2] = (byte)-(r[0] + r[1]);
        r[3] = request[0];
        r[4] = request[4];
        r[5] = request[5];
        r[6] = cc;
        data.CopyTo(r, 7);
        byte sum = 0;
        foreach (var b in r.AsSpan(3, r.Length - 4))
        {
            sum += b;
        }

        r[^1] = (byte)-sum;
        return r;
    }

    private static byte[] Kuid()
    {
        var k = new byte[20];
        Encoding.ASCII.GetBytes(Password).CopyTo(k, 0);
        return k;
    }

    private static byte[] Hmac(IpmiCipherSuite suite, byte[] key, byte[] data) =>
        suite.Id == 17 ? HMACSHA256.HashData(key, data) : HMACSHA1.HashData(key, data);

    private static byte[] Le(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private sealed class Session
    {
        public required IpmiCipherSuite Suite { get; init; }

        public uint ConsoleId { get; init; }

        public uint BmcId { get; init; }

        public byte[] Rm { get; set; } = [];

        public byte[]? Rc { get; set; }

        public byte Role { get; set; }

        public byte[] UserName { get; set; } = [];

        public IpmiSessionKeys? Keys { get; set; }

        public uint Sequence { get; set; }
    }
}
