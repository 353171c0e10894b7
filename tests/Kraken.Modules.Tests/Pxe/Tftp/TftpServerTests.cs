// Server behaviour seen from a client: option answers, custom sources, limits, repeated requests.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Kraken.Modules.Pxe.Tftp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Modules.Tests.Pxe.Tftp;

public sealed class TftpServerTests
{
    [Fact]
    public async Task Timeout_option_is_echoed_and_used()
    {
        await using var server = await TftpTestServer.StartAsync();
        server.AddFile("f", 2000);
        var r = await TestTftpClient.ReadAsync(server.EndPoint, "f", new TestReadOptions { ServerTimeout = 2 });
        Assert.Equal("2", r.Oack["timeout"]);
        Assert.Single(r.Oack);
        Assert.Equal(2000, r.Data.Length);
    }

    [Fact]
    public async Task Windowsize_is_lowered_to_the_configured_maximum()
    {
        await using var server = await TftpTestServer.StartAsync(o => o.MaxWindowSize = 4);
        var sha = server.AddFile("f", 100_000);
        var r = await TestTftpClient.ReadAsync(server.EndPoint, "f", new TestReadOptions { BlockSize = 1024, WindowSize = 32 });
        Assert.Equal("4", r.Oack["windowsize"]);
        Assert.Equal(sha, TftpTestServer.Sha256(r.Data));
    }

    [Theory]
    [InlineData("octet")]
    [InlineData("netascii")]
    public async Task A_source_of_unknown_length_is_served_without_tsize(string mode)
    {
        var content = new byte[70_000];
        new Random(3).NextBytes(content);
        var source = new StreamSource(content);
        await using var server = new TftpServer(new TftpServerOptions { Endpoint = new IPEndPoint(IPAddress.Loopback, 0) }, source, TimeProvider.System, NullLogger.Instance);
        await server.StartAsync(CancellationToken.None);
        var r = await TestTftpClient.ReadAsync(server.LocalEndPoint, "anything", new TestReadOptions { Mode = mode, TransferSize = true, BlockSize = 1000 });
        Assert.False(r.Oack.ContainsKey("tsize"));
        var expected = mode == "octet" ? content : NetAscii(content);
        Assert.Equal(expected, r.Data);
        await WaitUntil(() => source.Stream?.Disposed == true);   // the server disposes the content
        Assert.Equal(IPAddress.Loopback, source.Client?.Address);
    }

    [Fact]
    public async Task A_pxe_rom_probing_tsize_then_aborting_is_reported_and_served_again()
    {
        await using var server = await TftpTestServer.StartAsync();
        var sha = server.AddFile("undionly.kpxe", 70_000);
        var finished = new List<TftpTransfer>();
        server.Server.TransferFinished += t =>
        {
            lock (finished)
            {
                finished.Add(t);
            }
        };

        // Many PXE ROMs first ask for tsize only to learn the size, then abort with an ERROR.
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            await probe.SendToAsync(TestTftpClient.Request("undionly.kpxe", new TestReadOptions { TransferSize = true }), server.EndPoint);
            var buffer = new byte[600];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var r = await probe.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
            Assert.Equal("\0\u0006tsize\u000070000\0", System.Text.Encoding.ASCII.GetString(buffer, 0, r.ReceivedBytes));
            await probe.SendToAsync(System.Text.Encoding.ASCII.GetBytes("\0\u0005\0\u0000TFTP Aborted\0"), r.RemoteEndPoint);
        }

        var data = await TestTftpClient.ReadAsync(server.EndPoint, "undionly.kpxe", new TestReadOptions { TransferSize = true, BlockSize = 1456 });
        Assert.Equal(sha, TftpTestServer.Sha256(data.Data));
        await WaitUntil(() =>
        {
            lock (finished)
            {
                return finished.Count == 2;   // the event follows the counters
            }
        });
        lock (finished)
        {
            var aborted = Assert.Single(finished, t => !t.Completed);
            Assert.Equal("client error 0: TFTP Aborted", aborted.Error);
            Assert.Equal(0, aborted.Bytes);
            Assert.Equal(70_000, Assert.Single(finished, t => t.Completed).Bytes);
        }
    }

    [Fact]
    public async Task Requests_beyond_MaxTransfers_all_acknowledged_get_server_busy()
    {
        await using var server = await TftpTestServer.StartAsync(o => o.MaxTransfers = 1);
        server.AddFile("f", 2000);
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await holder.SendToAsync(TestTftpClient.Request("f", new TestReadOptions()), server.EndPoint);
        var buffer = new byte[600];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var r = await holder.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        await holder.SendToAsync(new byte[] { 0, 4, 0, 1 }, r.RemoteEndPoint);   // acknowledged once: proven
        await holder.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);   // DATA 2, not acknowledged
        Assert.Equal(0, server.Server.Counters.TransfersUnproven);

        var e = await Assert.ThrowsAsync<TftpClientError>(() => TestTftpClient.ReadAsync(server.EndPoint, "f"));
        Assert.Equal(0, e.Code);
        Assert.Equal(1, server.Server.Counters.Dropped(TftpDropReason.Busy));
        Assert.Equal(0, server.Server.Counters.TransfersEvicted);
    }

    [Fact]
    public async Task A_repeated_request_from_the_same_port_starts_no_second_transfer()
    {
        await using var server = await TftpTestServer.StartAsync();
        server.AddFile("f", 100);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var request = TestTftpClient.Request("f", new TestReadOptions());
        await socket.SendToAsync(request, server.EndPoint);
        await socket.SendToAsync(request, server.EndPoint);
        var buffer = new byte[600];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(buffer));
        await socket.SendToAsync(new byte[] { 0, 4, 0, 1 }, r.RemoteEndPoint);
        await server.WaitForFinishedAsync(1);
        Assert.Equal(1, server.Server.Counters.Requests);
        Assert.Equal(1, server.Server.Counters.Dropped(TftpDropReason.DuplicateRequest));
        Assert.Equal(1, server.Server.Counters.TransfersCompleted);
        Assert.Equal(0, server.Server.Counters.TransfersUnproven);
    }

    [Fact]
    public async Task Dispose_ends_running_transfers_and_reports_them()
    {
        var server = await TftpTestServer.StartAsync();
        server.AddFile("f", 600);
        TftpTransfer? finished = null;
        server.Server.TransferFinished += t => finished = t;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await socket.SendToAsync(TestTftpClient.Request("f", new TestReadOptions()), server.EndPoint);
        var buffer = new byte[600];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(finished);
        Assert.False(finished!.Completed);
        Assert.Equal("server stopping", finished.Error);
        Assert.Equal(0, server.Server.Counters.TransfersActive);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 250 && !condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }

    private static byte[] NetAscii(byte[] raw)
    {
        var list = new List<byte>();
        foreach (var b in raw)
        {
            switch (b)
            {
                case (byte)'\n':
                    list.Add((byte)'\r');
                    list.Add((byte)'\n');
                    break;
                case (byte)'\r':
                    list.Add((byte)'\r');
                    list.Add(0);
                    break;
                default:
                    list.Add(b);
                    break;
            }
        }

        return [.. list];
    }

    // Content through a stream that cannot seek and reads in small pieces, asynchronously.
    private sealed class StreamSource(byte[] content) : ITftpFileSource
    {
        public IPEndPoint? Client { get; private set; }

        public TrickleStream? Stream { get; private set; }

        public ValueTask<TftpFile?> OpenAsync(string path, IPEndPoint client, CancellationToken cancellationToken)
        {
            Client = client;
            Stream = new TrickleStream(content);
            return ValueTask.FromResult<TftpFile?>(new TftpFile(Stream, null));
        }
    }

    private sealed class TrickleStream(byte[] content) : Stream
    {
        private int _position;

        public bool Disposed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("the server reads asynchronously");

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            var n = Math.Min(Math.Min(buffer.Length, 333), content.Length - _position);
            content.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
