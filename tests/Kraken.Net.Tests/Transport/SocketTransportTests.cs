// The socket transport on loopback: datagrams, framed streams on Pipelines, and hostile streams.
using System.Net;
using System.Net.Sockets;
using Kraken.Net.Sync;
using Kraken.Net.Transport;

namespace Kraken.Net.Tests.Transport;

[Trait("Category", "Network")]
public sealed class SocketTransportTests
{
    private sealed class Recorder : ISyncTransportHandler
    {
        private readonly Lock _lock = new();

        public List<byte[]> Datagrams { get; } = [];

        public List<byte[]> Frames { get; } = [];

        public List<IFrameConnection> Connected { get; } = [];

        public List<Exception?> Closed { get; } = [];

        public void OnDatagram(ReadOnlySpan<byte> datagram)
        {
            lock (_lock)
            {
                Datagrams.Add(datagram.ToArray());
            }
        }

        public void OnConnected(IFrameConnection connection)
        {
            lock (_lock)
            {
                Connected.Add(connection);
            }
        }

        public void OnFrame(IFrameConnection connection, ReadOnlySpan<byte> frame)
        {
            lock (_lock)
            {
                Frames.Add(frame.ToArray());
            }
        }

        public void OnClosed(IFrameConnection connection, Exception? error)
        {
            lock (_lock)
            {
                Closed.Add(error);
            }
        }

        public int Count(Func<Recorder, int> what)
        {
            lock (_lock)
            {
                return what(this);
            }
        }
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    private static byte[] Frame(int payload, ulong seq)
    {
        using var mac = new FrameMac(new byte[32]);
        return FrameCodec.ToArray(MessageType.Delta, 7, seq, new byte[payload], mac);
    }

    [Fact]
    public async Task Datagrams_and_frames_cross_loopback()
    {
        await using var a = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0));
        await using var b = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0));
        var ra = new Recorder();
        var rb = new Recorder();
        a.Start(ra);
        b.Start(rb);
        Assert.Equal(((IPEndPoint)b.LocalEndPoint).Port, b.DatagramPort);

        a.SendDatagram(b.LocalEndPoint, [1, 2, 3]);
        await Until(() => rb.Count(r => r.Datagrams.Count) == 1, "a datagram");
        Assert.Equal([1, 2, 3], rb.Datagrams[0]);

        var conn = a.Connect(b.LocalEndPoint, "bulk");
        await Until(() => ra.Count(r => r.Connected.Count) == 1 && rb.Count(r => r.Connected.Count) == 1, "both ends connected");
        Assert.Same(conn, ra.Connected[0]);
        var frames = Enumerable.Range(0, 50).Select(i => Frame(i * 997 % 70_000, (ulong)i + 1)).ToList();
        foreach (var f in frames)
        {
            Assert.True(conn.Send(f));
        }

        await Until(() => rb.Count(r => r.Frames.Count) == frames.Count, $"every frame ({rb.Count(r => r.Frames.Count)} arrived, closed: {string.Join(",", rb.Closed)})");
        Assert.Equal(frames, rb.Frames);
        Assert.Equal(((IPEndPoint)a.LocalEndPoint).Port, ((IPEndPoint)b.DatagramEndPointOf(rb.Connected[0], a.DatagramPort)).Port);

        conn.Close();
        await Until(() => rb.Count(r => r.Closed.Count) == 1, "the peer sees the close");
        Assert.Null(rb.Closed[0]);
    }

    [Fact]
    public async Task Garbage_or_an_oversize_frame_closes_that_stream_only()
    {
        await using var server = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0), maxPayload: 4096);
        var rs = new Recorder();
        server.Start(rs);

        // Raw clients writing bytes split at odd places: garbage, then a header claiming 2 GiB.
        var random = new Random(5);
        var garbage = new byte[500];
        random.NextBytes(garbage);
        var huge = new byte[FrameHeader.Size];
        new FrameHeader(MessageType.Delta, 0, 1, 1, int.MaxValue).Write(huge);
        foreach (var bytes in new[] { garbage, huge })
        {
            // Counted before connecting: the server may close the stream before the second send returns.
            var before = rs.Count(r => r.Closed.Count);
            using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await raw.ConnectAsync(server.LocalEndPoint);
            await raw.SendAsync(bytes.AsMemory(0, 5));
            await Task.Delay(20);
            await raw.SendAsync(bytes.AsMemory(5));
            await Until(() => rs.Count(r => r.Closed.Count) == before + 1, "the server closes the stream");
        }

        Assert.Equal(DropReason.Malformed, Assert.IsType<SyncProtocolException>(rs.Closed[0]).Reason);
        Assert.Equal(DropReason.Oversize, Assert.IsType<SyncProtocolException>(rs.Closed[1]).Reason);

        // The transport still serves a well-behaved peer, and a frame split into single bytes.
        using var good = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await good.ConnectAsync(server.LocalEndPoint);
        var frame = Frame(40, 1);
        foreach (var b in frame)
        {
            await good.SendAsync(new[] { b });
        }

        await Until(() => rs.Count(r => r.Frames.Count) == 1, "a frame sent byte by byte");
        Assert.Equal(frame, rs.Frames[0]);
    }
}
