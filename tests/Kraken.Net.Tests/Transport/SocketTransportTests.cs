// The socket transport on loopback: datagrams, framed streams on Pipelines, and hostile streams.
using System.Net;
using System.Net.Sockets;
using Kraken.Net.Sync;
using Kraken.Net.Transport;

namespace Kraken.Net.Tests.Transport;

[Trait("Category", "Network")]
public sealed partial class SocketTransportTests
{
    private sealed class Recorder : ISyncTransportHandler
    {
        private readonly Lock _lock = new();

        public List<byte[]> Datagrams { get; } = [];

        public List<byte[]> Frames { get; } = [];

        public List<IFrameConnection> Connected { get; } = [];

        public List<Exception?> Closed { get; } = [];

        /// <summary>The answer to <see cref="ISyncTransportHandler.AdmitsLargeFrame"/>: everyone, unless a test says otherwise.</summary>
        public Func<EndPoint, UInt128, bool> Admit { get; set; } = (_, _) => true;

        public List<string> Faults { get; } = [];

        public bool AdmitsLargeFrame(EndPoint remote, UInt128 sender) => Admit(remote, sender);

        public void OnTransportFault(string message)
        {
            lock (_lock)
            {
                Faults.Add(message);
            }
        }

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

    private static SocketTransport Limited(SocketTransportLimits limits) => new(new IPEndPoint(IPAddress.Loopback, 0), limits: limits);

    /// <summary>True once the server has closed <paramref name="raw"/> (a read returns end of stream or a reset).</summary>
    private static async Task<bool> ClosedByServer(Socket raw, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[64];
        try
        {
            while (true)
            {
                if (await raw.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>True when a stream from <paramref name="from"/> is reset by the server (during or right after the connect).</summary>
    private static async Task<bool> Refused(SocketTransport server, IPAddress from)
    {
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        raw.Bind(new IPEndPoint(from, 0));
        try
        {
            await raw.ConnectAsync(server.LocalEndPoint);
        }
        catch (SocketException)
        {
            return true;
        }

        return await ClosedByServer(raw, TimeSpan.FromSeconds(5));
    }

    private static async Task<Socket> Raw(SocketTransport server, IPAddress? from = null)
    {
        var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            raw.Bind(new IPEndPoint(from, 0));
        }

        await raw.ConnectAsync(server.LocalEndPoint);
        return raw;
    }

    [Fact]
    public async Task A_stream_that_says_nothing_is_closed_at_the_handshake_timeout_and_one_idle_after_a_frame_at_the_idle_timeout()
    {
        await using var server = Limited(new SocketTransportLimits { HandshakeTimeout = TimeSpan.FromMilliseconds(300), IdleTimeout = TimeSpan.FromMilliseconds(600) });
        var rs = new Recorder();
        server.Start(rs);

        using var silent = await Raw(server);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await ClosedByServer(silent, TimeSpan.FromSeconds(10)), "the silent stream is closed");
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));
        await Until(() => server.Counters.Cuts(StreamCut.HandshakeTimeout) == 1, "the handshake timeout counted");

        // A frame, then silence: the idle timeout, not the handshake one.
        using var idle = await Raw(server);
        await idle.SendAsync(Frame(10, 1));
        await Until(() => rs.Count(r => r.Frames.Count) == 1, "the frame delivered");
        clock.Restart();
        Assert.True(await ClosedByServer(idle, TimeSpan.FromSeconds(10)), "the idle stream is closed");
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));
        await Until(() => server.Counters.Cuts(StreamCut.IdleTimeout) == 1, "the idle timeout counted");
        await Until(() => server.Counters.OpenInbound == 0, "no inbound stream counted open");

    }

    [Fact]
    public async Task Frames_that_keep_coming_keep_a_stream_open_past_both_timeouts()
    {
        // Timeouts several times the gap between frames, so a loaded machine's late wake-up is not an idle stream.
        await using var server = Limited(new SocketTransportLimits { HandshakeTimeout = TimeSpan.FromMilliseconds(800), IdleTimeout = TimeSpan.FromMilliseconds(1500) });
        var rs = new Recorder();
        server.Start(rs);

        using var busy = await Raw(server);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 12; i++)
        {
            await busy.SendAsync(Frame(10, (ulong)i + 1));
            await Task.Delay(250);
        }

        Assert.True(clock.Elapsed > TimeSpan.FromMilliseconds(1500), "the stream lived past the idle timeout");
        await Until(() => rs.Count(r => r.Frames.Count) == 12, "every frame of the busy stream");
        Assert.Equal(0, server.Counters.Cuts(StreamCut.HandshakeTimeout));
        Assert.Equal(0, server.Counters.Cuts(StreamCut.IdleTimeout));
        Assert.Equal(1, server.Counters.OpenInbound);
    }

    [Fact]
    public async Task A_large_frame_is_read_only_from_a_neighbour_and_a_strangers_is_cut_at_its_header()
    {
        await using var server = Limited(new SocketTransportLimits { UnauthenticatedFrameLimit = 8192, HandshakeTimeout = TimeSpan.FromSeconds(1) });
        var neighbours = new HashSet<UInt128>();
        var rs = new Recorder { Admit = (_, sender) => { lock (neighbours) { return neighbours.Contains(sender); } } };
        server.Start(rs);

        // A stranger announces 1 MiB: the stream is closed after the header, before the body is read.
        using var stranger = await Raw(server);
        var big = Frame(1 << 20, 1);
        var sent = 0;
        try
        {
            await stranger.SendAsync(big.AsMemory(0, FrameHeader.Size));
            sent = FrameHeader.Size;
        }
        catch (SocketException)
        {
        }

        Assert.True(await ClosedByServer(stranger, TimeSpan.FromSeconds(10)), "the stranger's stream is closed");
        await Until(() => server.Counters.Cuts(StreamCut.Oversize) == 1, "the oversize announcement counted");
        await Until(() => rs.Count(r => r.Closed.Count) == 1, "the stranger's stream reported closed");
        Assert.Equal(FrameHeader.Size, sent);
        Assert.Equal(0, rs.Count(r => r.Frames.Count));
        Assert.Equal(DropReason.Oversize, Assert.IsType<SyncProtocolException>(rs.Closed.Single()).Reason);

        // Small frames need no admission.
        using var small = await Raw(server);
        await small.SendAsync(Frame(8000, 2));
        await Until(() => rs.Count(r => r.Frames.Count) == 1, "a frame under the limit");

        // The sender (7, as Frame writes it) becomes a neighbour while its large frame waits: it is read then.
        using var late = await Raw(server);
        var send = late.SendAsync(Frame(1 << 20, 3));
        await Task.Delay(300);
        Assert.Equal(1, rs.Count(r => r.Frames.Count));
        lock (neighbours)
        {
            neighbours.Add(7);
        }

        await send;
        await Until(() => rs.Count(r => r.Frames.Count) == 2, "the neighbour's large frame");
        Assert.Equal(Frame(1 << 20, 3), rs.Frames[1]);
    }

    [Fact]
    public async Task Streams_over_the_total_or_per_source_limit_are_refused_at_accept_and_counted()
    {
        await using var server = Limited(new SocketTransportLimits { MaxStreams = 5, MaxStreamsPerSource = 3 });
        var rs = new Recorder();
        server.Start(rs);

        // Three from 127.0.0.1 are taken; the fourth is refused, whatever it sends.
        var held = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            held.Add(await Raw(server, IPAddress.Loopback));
        }

        await Until(() => server.Counters.OpenInbound == 3, "three streams open");
        Assert.True(await Refused(server, IPAddress.Loopback), "the fourth from one address is refused");

        Assert.Equal(1, server.Counters.Cuts(StreamCut.SourceLimit));

        // Other loopback addresses fill the total; then anyone is refused.
        held.Add(await Raw(server, IPAddress.Parse("127.0.0.2")));
        held.Add(await Raw(server, IPAddress.Parse("127.0.0.3")));
        await Until(() => server.Counters.OpenInbound == 5, "five streams open");
        Assert.True(await Refused(server, IPAddress.Parse("127.0.0.4")), "the sixth stream is refused");

        Assert.Equal(1, server.Counters.Cuts(StreamCut.Limit));

        // A closed stream frees its place: a new one from the first address is served.
        held[0].Dispose();
        await Until(() => server.Counters.OpenInbound == 4, "the closed stream released");
        using var again = await Raw(server, IPAddress.Loopback);
        await again.SendAsync(Frame(10, 1));
        await Until(() => rs.Count(r => r.Frames.Count) == 1, "a frame on the freed place");
        foreach (var s in held)
        {
            s.Dispose();
        }
    }
}
