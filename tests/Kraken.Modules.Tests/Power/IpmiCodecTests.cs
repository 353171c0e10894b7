// RMCP+ codec: round trips, and garbage, truncated, oversized and tampered replies give clear protocol errors.
using System.Net;
using System.Net.Sockets;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Power;

public sealed class IpmiCodecTests : IDisposable
{
    private const uint SessionId = 0x11223344;

    private readonly IpmiSessionKeys _keys3 = Keys(IpmiCipherSuite.Suite3);
    private readonly IpmiSessionKeys _keys17 = Keys(IpmiCipherSuite.Suite17);

    public void Dispose()
    {
        _keys3.Dispose();
        _keys17.Dispose();
    }

    private static IpmiSessionKeys Keys(IpmiCipherSuite suite) =>
        new(suite, [.. Enumerable.Range(1, suite.HashLength).Select(i => (byte)i)], [.. Enumerable.Range(100, 16).Select(i => (byte)i)]);

    /// <summary>A Get Chassis Status response from the BMC (power on), as the BMC would frame it.</summary>
    private static byte[] ChassisStatusResponse(byte rqSeq = 5)
    {
        byte[] m = [0x81, (0x00 | 1) << 2, 0, 0x20, (byte)(rqSeq << 2), 0x01, 0x00, 0x01, 0x00, 0x00, 0];
        m[2] = (byte)-(m[0] + m[1]);
        m[^1] = (byte)-m[3..^1].Sum(b => b);
        return m;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(17)]
    public void Session_packet_round_trips_for_every_message_length(int suite)
    {
        var keys = suite == 3 ? _keys3 : _keys17;
        for (var length = 0; length < 40; length++)
        {
            var message = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
            var packet = IpmiCodec.SessionPacket(keys, SessionId, 9, message);
            // The authenticated part (auth type through next header) is a whole number of 4-byte words.
            Assert.Equal(0, (packet.Length - 4 - keys.Suite.AuthCodeLength) % 4);
            Assert.Equal(message, IpmiCodec.ReadSessionPacket(packet, keys, SessionId));
        }
    }

    [Fact]
    public void Response_is_read_and_checked_against_the_request()
    {
        var m = ChassisStatusResponse();
        Assert.True(IpmiCodec.TryReadResponse(m, 0x00, 0x01, 5, out var cc, out var data));
        Assert.Equal(0, cc);
        Assert.Equal(new byte[] { 0x01, 0x00, 0x00 }, data.ToArray());
        Assert.False(IpmiCodec.TryReadResponse(m, 0x00, 0x01, 6, out _, out _));
        m[7] ^= 0x01;
        var e = Assert.Throws<PowerException>(() => IpmiCodec.TryReadResponse(m, 0x00, 0x01, 5, out _, out _));
        Assert.Contains("body checksum mismatch", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_truncation_of_a_session_reply_is_a_protocol_error()
    {
        var packet = IpmiCodec.SessionPacket(_keys3, SessionId, 1, ChassisStatusResponse());
        for (var n = 0; n < packet.Length; n++)
        {
            var e = Assert.Throws<PowerException>(() => IpmiCodec.ReadSessionPacket(packet.AsSpan(0, n), _keys3, SessionId));
            Assert.Equal(PowerErrorKind.Protocol, e.Kind);
            Assert.StartsWith("malformed RMCP+ reply: ", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_truncation_of_a_set_up_reply_is_a_protocol_error_or_too_short_for_its_payload()
    {
        var packet = IpmiCodec.OpenSessionRequest(1, 0xABCD, 4, IpmiCipherSuite.Suite3);
        for (var n = 0; n < packet.Length; n++)
        {
            var e = Assert.Throws<PowerException>(() => IpmiCodec.ReadUnauthenticated(packet.AsSpan(0, n), IpmiPayloadType.OpenSessionRequest).Length);
            Assert.Equal(PowerErrorKind.Protocol, e.Kind);
        }

        Assert.Equal(32, IpmiCodec.ReadUnauthenticated(packet, IpmiPayloadType.OpenSessionRequest).Length);
    }

    [Fact]
    public void Oversized_reply_is_rejected_before_it_is_parsed()
    {
        var big = new byte[IpmiCodec.MaxDatagram + 1];
        IpmiCodec.OpenSessionRequest(1, 1, 4, IpmiCipherSuite.Suite3).CopyTo(big, 0);
        var e = Assert.Throws<PowerException>(() => IpmiCodec.ReadSessionPacket(big, _keys3, SessionId));
        Assert.Contains("1025 bytes exceed the 1024-byte maximum", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tampered_or_foreign_replies_are_rejected_with_the_reason()
    {
        var packet = IpmiCodec.SessionPacket(_keys3, SessionId, 1, ChassisStatusResponse());
        var flipped = (byte[])packet.Clone();
        flipped[20] ^= 0x80;
        Assert.Contains("authentication code mismatch", Assert.Throws<PowerException>(() => IpmiCodec.ReadSessionPacket(flipped, _keys3, SessionId)).Message, StringComparison.Ordinal);
        Assert.Contains("is not this session's", Assert.Throws<PowerException>(() => IpmiCodec.ReadSessionPacket(packet, _keys3, SessionId + 1)).Message, StringComparison.Ordinal);
        Assert.Equal(PowerErrorKind.Protocol, Assert.Throws<PowerException>(() => IpmiCodec.ReadSessionPacket(packet, _keys17, SessionId)).Kind);
        var ipmi15 = (byte[])packet.Clone();
        ipmi15[4] = 0x00;
        Assert.Contains("IPMI 1.5 framing", Assert.Throws<PowerException>(() => IpmiCodec.ReadSessionPacket(ipmi15, _keys3, SessionId)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_garbage_only_ever_gives_protocol_errors()
    {
        var random = new Random(1234);
        var valid = IpmiCodec.SessionPacket(_keys3, SessionId, 1, ChassisStatusResponse());
        for (var i = 0; i < 2000; i++)
        {
            // Half pure noise, half a valid packet with a few bytes changed.
            byte[] data;
            if (i % 2 == 0)
            {
                data = new byte[random.Next(0, 120)];
                random.NextBytes(data);
            }
            else
            {
                data = (byte[])valid.Clone();
                for (var k = random.Next(1, 4); k > 0; k--)
                {
                    data[random.Next(data.Length)] = (byte)random.Next(256);
                }
            }

            try
            {
                IpmiCodec.ReadSessionPacket(data, _keys3, SessionId);
                _ = IpmiCodec.ReadUnauthenticated(data, IpmiPayloadType.Rakp2).Length;
            }
            catch (PowerException e)
            {
                Assert.Equal(PowerErrorKind.Protocol, e.Kind);
            }
        }
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("oversized")]
    public async Task Driver_facing_a_bmc_that_answers_nonsense_fails_with_a_clear_protocol_error(string mode)
    {
        using var bmc = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        bmc.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        var responder = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (!stop.IsCancellationRequested)
            {
                var r = await bmc.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), stop.Token);
                byte[] reply = mode switch
                {
                    "garbage" => [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01],
                    "truncated" => buffer[..10],
                    _ => new byte[1500],
                };
                await bmc.SendToAsync(reply, r.RemoteEndPoint, stop.Token);
            }
        });
        using var driver = new IpmiPowerDriver(new InMemoryCredentialProvider().Set("c", "pw"), new IpmiOptions { PacketTimeout = TimeSpan.FromMilliseconds(100), PacketRetries = 1 });
        var target = new PowerTarget(NodeId.FromName("n"), "ipmi", "127.0.0.1") { Port = ((IPEndPoint)bmc.LocalEndPoint!).Port, User = "admin", Credential = "c" };
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(target, PowerAction.Status, CancellationToken.None));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => responder);
        Assert.Equal(PowerErrorKind.Protocol, e.Kind);
        Assert.Contains("sent no valid reply in 2 tries; last: malformed RMCP+ reply:", e.Message, StringComparison.Ordinal);
        Assert.Contains(mode switch { "garbage" => "not an RMCP IPMI packet", "truncated" => "too short for the 16-byte RMCP+ session header", _ => "datagram exceeds the 1024-byte maximum" }, e.Message, StringComparison.Ordinal);
    }
}
