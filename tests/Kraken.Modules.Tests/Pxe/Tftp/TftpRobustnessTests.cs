// Malformed packets, lost and duplicated packets, strangers on a transfer's port: counted, survived, recovered.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kraken.Modules.Pxe.Tftp;

namespace Kraken.Modules.Tests.Pxe.Tftp;

public sealed class TftpRobustnessTests
{
    public static TheoryData<string, byte[], TftpDropReason, int?> Malformed => new()
    {
        { "one byte", [0], TftpDropReason.Truncated, null },
        { "opcode only", [0, 1], TftpDropReason.Truncated, 4 },
        { "file name without NUL", [0, 1, (byte)'a', (byte)'b'], TftpDropReason.MissingNul, 4 },
        { "mode without NUL", Bytes("\0\u0001file\0octet"), TftpDropReason.MissingNul, 4 },
        { "empty file name", Bytes("\0\u0001\0octet\0"), TftpDropReason.Truncated, 4 },
        { "unknown opcode 9", Bytes("\0\u0009file\0octet\0"), TftpDropReason.UnknownOpcode, 4 },
        { "opcode 0", [0, 0, 1, 2, 3], TftpDropReason.UnknownOpcode, 4 },
        { "unknown mode", Bytes("\0\u0001file\0mail\0"), TftpDropReason.BadMode, 4 },
        { "blksize not a number", Bytes("\0\u0001file\0octet\0blksize\0big\0"), TftpDropReason.BadOption, 8 },
        { "blksize below 8", Bytes("\0\u0001file\0octet\0blksize\u00007\0"), TftpDropReason.BadOption, 8 },
        { "windowsize 0", Bytes("\0\u0001file\0octet\0windowsize\u00000\0"), TftpDropReason.BadOption, 8 },
        { "timeout 256", Bytes("\0\u0001file\0octet\0timeout\u0000256\0"), TftpDropReason.BadOption, 8 },
        { "negative tsize", Bytes("\0\u0001file\0octet\0tsize\0-1\0"), TftpDropReason.BadOption, 8 },
        { "option without value", Bytes("\0\u0001file\0octet\0blksize\0"), TftpDropReason.BadOption, 8 },
        { "option value without NUL", Bytes("\0\u0001file\0octet\0blksize\u00001024"), TftpDropReason.BadOption, 8 },
        { "write request", Bytes("\0\u0002file\0octet\0"), TftpDropReason.WriteRequest, 2 },
        { "ACK to the request port", [0, 4, 0, 1], TftpDropReason.UnexpectedOpcode, 4 },
        { "DATA to the request port", [0, 3, 0, 1, 9, 9], TftpDropReason.UnexpectedOpcode, 4 },
        { "ERROR to the request port", Bytes("\0\u0005\0\u0001oops\0"), TftpDropReason.UnexpectedOpcode, null },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Malformed_request_is_counted_answered_as_the_protocol_says_and_the_server_keeps_serving(string what, byte[] packet, TftpDropReason reason, int? errorCode)
    {
        await using var server = await TftpTestServer.StartAsync();
        var sha = server.AddFile("ok.bin", 3000);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await socket.SendToAsync(packet, server.EndPoint);
        if (errorCode is { } code)
        {
            var buffer = new byte[600];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
            Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(buffer));
            Assert.Equal(code, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)));
            Assert.Equal(0, buffer[r.ReceivedBytes - 1]);
        }

        // Served normally afterwards, and the bad packet was counted under its reason.
        var ok = await TestTftpClient.ReadAsync(server.EndPoint, "ok.bin");
        Assert.Equal(sha, TftpTestServer.Sha256(ok.Data));
        Assert.True(server.Server.Counters.Dropped(reason) == 1, what);
        Assert.Equal(1, server.Server.Counters.DroppedTotal);
    }

    [Fact]
    public async Task A_flood_of_every_malformed_kind_leaves_the_server_serving()
    {
        await using var server = await TftpTestServer.StartAsync();
        var sha = server.AddFile("ok.bin", 100_000);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var rng = new Random(5);
        var sent = 0;
        for (var round = 0; round < 20; round++)
        {
            foreach (var row in Malformed)
            {
                await socket.SendToAsync((byte[])row[1], server.EndPoint);
                sent++;
            }

            // Random garbage of random lengths, including truncations of a good request at every offset.
            var good = TestTftpClient.Request("ok.bin", new TestReadOptions { BlockSize = 1024 });
            await socket.SendToAsync(good.AsMemory(0, round % good.Length), server.EndPoint);
            var junk = new byte[rng.Next(0, 1500)];
            rng.NextBytes(junk);
            junk[0] = 0;
            junk[1] = (byte)rng.Next(7, 255);
            await socket.SendToAsync(junk, server.EndPoint);
        }

        var ok = await TestTftpClient.ReadAsync(server.EndPoint, "ok.bin", new TestReadOptions { BlockSize = 1428, WindowSize = 4 });
        Assert.Equal(sha, TftpTestServer.Sha256(ok.Data));
        Assert.True(server.Server.Counters.DroppedTotal >= sent, $"{server.Server.Counters.DroppedTotal} < {sent}");
        Assert.Equal(20, server.Server.Counters.Dropped(TftpDropReason.WriteRequest));
    }

    [Theory]
    [InlineData(1, 512, false)]
    [InlineData(8, 1428, false)]
    [InlineData(8, 1428, true)]
    public async Task Lost_data_is_retransmitted_and_the_transfer_completes(int window, int blockSize, bool perBlockSends)
    {
        await using var server = await TftpTestServer.StartAsync(o =>
        {
            o.Timeout = TimeSpan.FromMilliseconds(100);
            o.DisableSegmentation = perBlockSends;
        });
        var sha = server.AddFile("lossy.bin", 100_000, seed: 4);
        // Lose the first copy of every 7th block and the first two copies of block 20.
        var result = await TestTftpClient.ReadAsync(server.EndPoint, "lossy.bin", new TestReadOptions
        {
            BlockSize = blockSize,
            WindowSize = window,
            Lose = (block, attempt) => (block % 7 == 0 && attempt == 1) || (block == 20 && attempt <= 2),
        });
        Assert.Equal(sha, TftpTestServer.Sha256(result.Data));
        await server.WaitForFinishedAsync(1);
        Assert.Equal(1, server.Server.Counters.TransfersCompleted);
        Assert.True(server.Server.Counters.Retransmissions > 0);
        Assert.Equal(100_000, server.Server.Counters.BytesSent);

        // Windows (whole or resent from a partial ACK) go out segmented unless that is switched off.
        Assert.Equal(window > 1 && !perBlockSends, server.Server.Counters.SegmentedSends > 0);
    }

    [Fact]
    public async Task Duplicate_acks_do_not_double_the_data_sorcerers_apprentice()
    {
        await using var server = await TftpTestServer.StartAsync();
        var sha = server.AddFile("f.bin", 512 * 300, seed: 9);
        var result = await TestTftpClient.ReadAsync(server.EndPoint, "f.bin", new TestReadOptions { DuplicateAcks = true });
        Assert.Equal(sha, TftpTestServer.Sha256(result.Data));
        await server.WaitForFinishedAsync(1);

        // 301 blocks (the last one empty), each sent once: duplicates were ignored, not answered.
        Assert.Equal(301, server.Server.Counters.BlocksSent);
        Assert.True(server.Server.Counters.DuplicateAcks >= 300);
        Assert.Equal(0, server.Server.Counters.Retransmissions);
    }

    [Fact]
    public async Task A_lost_oack_is_sent_again_when_the_client_repeats_its_request_not_on_a_timer()
    {
        await using var server = await TftpTestServer.StartAsync(o => o.Timeout = TimeSpan.FromMilliseconds(100));
        server.AddFile("f.bin", 4000);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var request = TestTftpClient.Request("f.bin", new TestReadOptions { BlockSize = 1024 });
        await socket.SendToAsync(request, server.EndPoint);
        var buffer = new byte[2000];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));

        // Ignore the first OACK. Before the client's first ACK nothing comes again by itself (five timeouts pass)...
        var first = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.Equal(6, BinaryPrimitives.ReadUInt16BigEndian(buffer));
        await Task.Delay(600);
        Assert.Equal(0, socket.Available);

        // ...but the client's repeated request brings it again, from the same transfer port.
        await socket.SendToAsync(request, server.EndPoint);
        var second = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.Equal(6, BinaryPrimitives.ReadUInt16BigEndian(buffer));
        Assert.Equal(first.RemoteEndPoint, second.RemoteEndPoint);
        Assert.NotEqual(server.Port, ((IPEndPoint)first.RemoteEndPoint).Port);
        Assert.Equal(1, server.Server.Counters.Retransmissions);
        Assert.Equal(1, server.Server.Counters.Requests);
    }

    [Fact]
    public async Task A_silent_client_gets_block_1_once_and_is_abandoned_after_the_unproven_timeout()
    {
        await using var server = await TftpTestServer.StartAsync(o =>
        {
            o.Timeout = TimeSpan.FromMilliseconds(100);
            o.UnprovenTimeout = TimeSpan.FromMilliseconds(800);
            o.MaxRetries = 3;
        });
        server.AddFile("f.bin", 4000);
        TftpTransfer? finished = null;
        server.Server.TransferFinished += t => finished = t;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var started = DateTime.UtcNow;
        await socket.SendToAsync(TestTftpClient.Request("f.bin", new TestReadOptions()), server.EndPoint);
        await server.WaitForFinishedAsync(1);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(700), "ended before the unproven timeout");
        Assert.Equal(1, server.Server.Counters.TransfersFailed);
        Assert.Equal(1, server.Server.Counters.TransfersUnacknowledged);
        Assert.Equal(1, server.Server.Counters.BlocksSent);   // block 1, never again on a timer
        Assert.Equal(0, server.Server.Counters.Retransmissions);
        Assert.Equal(0, server.Server.Counters.TransfersUnproven);
        Assert.Equal((1, 516L), await TftpFloodTests.DrainAsync(socket));
        for (var i = 0; i < 250 && Volatile.Read(ref finished) is null; i++)
        {
            await Task.Delay(20);   // the event follows the counters
        }

        Assert.NotNull(finished);
        Assert.False(finished!.Completed);
        Assert.Contains("no acknowledgement of block 1", finished.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proven_transfer_still_retransmits_on_its_timer_up_to_the_retry_limit()
    {
        await using var server = await TftpTestServer.StartAsync(o =>
        {
            o.Timeout = TimeSpan.FromMilliseconds(100);
            o.MaxRetries = 3;
        });
        server.AddFile("f.bin", 4000);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await socket.SendToAsync(TestTftpClient.Request("f.bin", new TestReadOptions()), server.EndPoint);
        var buffer = new byte[600];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        await socket.SendToAsync(new byte[] { 0, 4, 0, 1 }, r.RemoteEndPoint);   // proven; then silent
        await server.WaitForFinishedAsync(1);
        Assert.Equal(1, server.Server.Counters.TransfersFailed);
        Assert.Equal(0, server.Server.Counters.TransfersUnacknowledged);
        Assert.Equal(5, server.Server.Counters.BlocksSent);   // block 1, block 2 and its three retransmissions
        Assert.Equal(3, server.Server.Counters.Retransmissions);
    }

    [Fact]
    public async Task A_stranger_on_the_transfer_port_gets_error_5_and_the_transfer_goes_on()
    {
        await using var server = await TftpTestServer.StartAsync();
        var sha = server.AddFile("f.bin", 512 * 10 + 10);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        stranger.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.SendToAsync(TestTftpClient.Request("f.bin", new TestReadOptions()), server.EndPoint);
        var buffer = new byte[600];
        var r = await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        var tid = r.RemoteEndPoint;

        var other = new byte[600];
        // Oversized and odd datagrams from the client itself are counted and ignored.
        await client.SendToAsync(new byte[3000], tid);
        await client.SendToAsync(new byte[] { 0, 3, 0, 1, 7 }, tid);
        await client.SendToAsync(new byte[] { 0 }, tid);
        await stranger.SendToAsync(new byte[2000], tid);
        var e = await stranger.ReceiveFromAsync(other, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(other.AsSpan(2)));
        await stranger.SendToAsync(new byte[] { 0, 4, 0, 1 }, tid);
        e = await stranger.ReceiveFromAsync(other, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.Equal(tid, e.RemoteEndPoint);
        Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(other));
        Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(other.AsSpan(2)));
        Assert.Equal(2, server.Server.Counters.Dropped(TftpDropReason.UnknownTransferId));
        Assert.Equal(3, server.Server.Counters.Dropped(TftpDropReason.BadTransferPacket));

        // The client carries on, block by block, from the DATA 1 it holds.
        var data = new MemoryStream();
        while (true)
        {
            Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(buffer));
            var block = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2));
            data.Write(buffer, 4, r.ReceivedBytes - 4);
            await client.SendToAsync(new byte[] { 0, 4, (byte)(block >> 8), (byte)block }, tid);
            if (r.ReceivedBytes < 516)
            {
                break;
            }

            r = await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        }

        Assert.Equal(sha, TftpTestServer.Sha256(data.ToArray()));
        await server.WaitForFinishedAsync(1);
        Assert.Equal(1, server.Server.Counters.TransfersCompleted);
    }

    private static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);
}
