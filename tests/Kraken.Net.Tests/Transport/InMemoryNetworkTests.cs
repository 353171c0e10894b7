// The in-memory network: timing, loss, duplication, reordering, partitions, crashes and ordered streams.
using System.Net;
using Kraken.Net.Execution;
using Kraken.Net.Transport;

namespace Kraken.Net.Tests.Transport;

public sealed class InMemoryNetworkTests
{
    private sealed class Recorder(VirtualTimeProvider time) : ISyncTransportHandler
    {
        public List<(TimeSpan At, byte[] Data)> Datagrams { get; } = [];

        public List<byte[]> Frames { get; } = [];

        public List<IFrameConnection> Connected { get; } = [];

        public List<(IFrameConnection Connection, Exception? Error)> Closed { get; } = [];

        public void OnDatagram(ReadOnlySpan<byte> datagram) => Datagrams.Add((time.Elapsed, datagram.ToArray()));

        public void OnConnected(IFrameConnection connection) => Connected.Add(connection);

        public void OnFrame(IFrameConnection connection, ReadOnlySpan<byte> frame) => Frames.Add(frame.ToArray());

        public void OnClosed(IFrameConnection connection, Exception? error) => Closed.Add((connection, error));
    }

    private static (VirtualTimeProvider Time, InMemoryNetwork Net, InMemoryTransport A, InMemoryTransport B, Recorder Ra, Recorder Rb) Pair(int seed = 1)
    {
        var time = new VirtualTimeProvider();
        var net = new InMemoryNetwork(time, new ManualExecutor(time.Work), seed);
        var a = net.CreateTransport(new InMemoryEndPoint(1));
        var b = net.CreateTransport(new InMemoryEndPoint(2));
        var ra = new Recorder(time);
        var rb = new Recorder(time);
        a.Start(ra);
        b.Start(rb);
        return (time, net, a, b, ra, rb);
    }

    [Fact]
    public void A_datagram_arrives_after_the_latency_and_not_before()
    {
        var (time, net, a, b, _, rb) = Pair();
        net.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(5) };
        a.SendDatagram(b.LocalEndPoint, [1, 2, 3]);
        time.Advance(TimeSpan.FromMilliseconds(4.9));
        Assert.Empty(rb.Datagrams);
        time.Advance(TimeSpan.FromMilliseconds(0.1));
        Assert.Equal(TimeSpan.FromMilliseconds(5), Assert.Single(rb.Datagrams).At);
        Assert.Equal([1, 2, 3], rb.Datagrams[0].Data);
    }

    [Fact]
    public void Loss_duplication_and_reordering_follow_the_conditions_and_the_seed()
    {
        static List<byte> Run(int seed, out long lost, out long duplicated)
        {
            var (time, net, a, b, _, rb) = Pair(seed);
            net.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(1), Jitter = TimeSpan.FromMilliseconds(2), Loss = 0.2, Duplicate = 0.1, Reorder = 0.1 };
            for (var i = 0; i < 1000; i++)
            {
                a.SendDatagram(b.LocalEndPoint, [(byte)i]);
                time.Advance(TimeSpan.FromMilliseconds(0.5));
            }

            time.Advance(TimeSpan.FromSeconds(1));
            lost = net.Lost;
            duplicated = net.Duplicated;
            return [.. rb.Datagrams.Select(d => d.Data[0])];
        }

        var first = Run(9, out var lost, out var dup);
        Assert.InRange(lost, 150, 250);
        Assert.InRange(dup, 50, 130);
        Assert.Equal(1000 - lost + dup, first.Count);
        Assert.True(first.Zip(first.Skip(1)).Count(p => p.Second < p.First && p.First - p.Second < 128) > 20, "nothing was reordered");
        Assert.Equal(first, Run(9, out _, out _));
        Assert.NotEqual(first, Run(10, out _, out _));
    }

    [Fact]
    public void A_partition_blocks_both_ways_until_healed()
    {
        var (time, net, a, b, ra, rb) = Pair();
        net.Partition((InMemoryEndPoint)a.LocalEndPoint, (InMemoryEndPoint)b.LocalEndPoint);
        a.SendDatagram(b.LocalEndPoint, [1]);
        b.SendDatagram(a.LocalEndPoint, [2]);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(ra.Datagrams);
        Assert.Empty(rb.Datagrams);

        net.Heal((InMemoryEndPoint)a.LocalEndPoint, (InMemoryEndPoint)b.LocalEndPoint);
        a.SendDatagram(b.LocalEndPoint, [3]);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([3], Assert.Single(rb.Datagrams).Data);
    }

    [Fact]
    public void Duplication_delivers_every_datagram_twice_with_its_own_delay()
    {
        var (time, net, a, b, _, rb) = Pair();
        net.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(2), Jitter = TimeSpan.FromMilliseconds(4), Duplicate = 1 };
        for (var i = 0; i < 50; i++)
        {
            a.SendDatagram(b.LocalEndPoint, [(byte)i]);
        }

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(50, net.Duplicated);
        Assert.Equal(100, rb.Datagrams.Count);
        Assert.All(rb.Datagrams.GroupBy(d => d.Data[0]), g => Assert.Equal(2, g.Count()));

        // Each copy draws its own jitter: the two copies of a datagram do not all arrive together.
        Assert.Contains(rb.Datagrams.GroupBy(d => d.Data[0]), g => g.First().At != g.Last().At);
        Assert.All(rb.Datagrams, d => Assert.InRange(d.At, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(6)));
    }

    [Fact]
    public void Reordering_holds_datagrams_back_within_the_reorder_delay_so_later_ones_overtake_them()
    {
        static List<(TimeSpan At, byte[] Data)> Run(int seed)
        {
            var (time, net, a, b, _, rb) = Pair(seed);
            net.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(1), Reorder = 0.3, ReorderDelay = TimeSpan.FromMilliseconds(20) };
            for (var i = 0; i < 200; i++)
            {
                a.SendDatagram(b.LocalEndPoint, [(byte)i]);
                time.Advance(TimeSpan.FromMilliseconds(1));
            }

            time.Advance(TimeSpan.FromSeconds(1));
            return rb.Datagrams;
        }

        var got = Run(3);
        var order = got.Select(d => (int)d.Data[0]).ToList();

        // Nothing lost or doubled, but not in the order sent.
        Assert.Equal(Enumerable.Range(0, 200), order.Order());
        Assert.NotEqual(Enumerable.Range(0, 200), order);

        // Datagram i was sent at i ms: on time it arrives 1 ms later; held back, 2 to 22 ms later.
        var late = got.Where(d => d.At - TimeSpan.FromMilliseconds(d.Data[0]) > TimeSpan.FromMilliseconds(1)).ToList();
        Assert.InRange(late.Count, 30, 90);
        Assert.All(late, d => Assert.InRange(d.At - TimeSpan.FromMilliseconds(d.Data[0]), TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(22)));
        Assert.Contains(late, d => d.At - TimeSpan.FromMilliseconds(d.Data[0]) > TimeSpan.FromMilliseconds(10));

        // The same seed reorders the same way; another seed does not.
        Assert.Equal(order, Run(3).Select(d => (int)d.Data[0]));
        Assert.NotEqual(order, Run(4).Select(d => (int)d.Data[0]));
    }

    [Fact]
    public void A_split_cuts_a_group_off_both_ways_keeps_it_together_and_heals_by_itself()
    {
        var (time, net, a, b, ra, rb) = Pair();
        var c = net.CreateTransport(new InMemoryEndPoint(3));
        var rc = new Recorder(time);
        c.Start(rc);

        // b and c are one rack behind a failed uplink for 10 s: a cannot reach them, they reach each other.
        var split = net.Split([b.Address, c.Address], TimeSpan.FromSeconds(10));
        Assert.Equal(2, split.Count);
        Assert.False(net.CanReach(a.Address, b.Address));
        Assert.True(net.CanReach(b.Address, c.Address));
        a.SendDatagram(b.LocalEndPoint, [1]);
        b.SendDatagram(a.LocalEndPoint, [2]);
        c.SendDatagram(a.LocalEndPoint, [3]);
        b.SendDatagram(c.LocalEndPoint, [4]);
        var stream = a.Connect(c.LocalEndPoint, null);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(ra.Datagrams);
        Assert.Empty(rb.Datagrams);
        Assert.Equal([4], Assert.Single(rc.Datagrams).Data);
        Assert.Empty(rc.Connected);
        Assert.Equal(4, net.Lost);

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.True(split.Healed);
        Assert.True(net.CanReach(a.Address, b.Address));
        a.SendDatagram(b.LocalEndPoint, [5]);
        c.SendDatagram(a.LocalEndPoint, [6]);
        var stream2 = a.Connect(c.LocalEndPoint, null);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([5], Assert.Single(rb.Datagrams).Data);
        Assert.Equal([6], Assert.Single(ra.Datagrams).Data);
        Assert.Contains(stream2, ra.Connected);
        Assert.DoesNotContain(stream, ra.Connected);
    }

    [Fact]
    public void A_split_breaks_an_open_stream_and_what_was_in_flight_across_it_is_lost()
    {
        var (time, net, a, b, _, rb) = Pair();
        net.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(5) };
        var conn = a.Connect(b.LocalEndPoint, null);
        time.Advance(TimeSpan.FromMilliseconds(20));
        conn.Send([1]);
        a.SendDatagram(b.LocalEndPoint, [1]);
        time.Advance(TimeSpan.FromMilliseconds(2));

        // Cut while both are on the wire, until after they would have arrived.
        var split = net.Split([b.Address]);
        time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal(2, net.Lost);
        net.Heal(split);
        net.Heal(split);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(rb.Frames);
        Assert.Empty(rb.Datagrams);

        // The stream stays broken after the heal, as a TCP connection whose segments were lost would time out.
        conn.Send([2]);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(rb.Frames);
        a.SendDatagram(b.LocalEndPoint, [3]);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([3], Assert.Single(rb.Datagrams).Data);
    }

    [Fact]
    public void Streams_stay_reliable_and_ordered_under_duplication_and_reordering()
    {
        var (time, net, a, b, _, rb) = Pair();
        net.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(1), Jitter = TimeSpan.FromMilliseconds(5), Loss = 0.3, Duplicate = 1, Reorder = 1, ReorderDelay = TimeSpan.FromMilliseconds(50) };
        var conn = a.Connect(b.LocalEndPoint, null);
        time.Advance(TimeSpan.FromMilliseconds(10));
        for (var i = 0; i < 200; i++)
        {
            Assert.True(conn.Send([(byte)i]));
            time.Advance(TimeSpan.FromMilliseconds(0.1));
        }

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (byte)i), rb.Frames.Select(f => f[0]));
        Assert.Equal(0, net.Duplicated);
    }

    [Fact]
    public void Streams_are_ordered_and_reliable_and_a_crash_is_silent()
    {
        var (time, net, a, b, ra, rb) = Pair();
        net.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(1), Jitter = TimeSpan.FromMilliseconds(5), Loss = 0.5 };
        var conn = a.Connect(b.LocalEndPoint, "tag");
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Same(conn, Assert.Single(ra.Connected));
        Assert.Equal("tag", conn.Tag);
        Assert.Single(rb.Connected);

        for (var i = 0; i < 100; i++)
        {
            Assert.True(conn.Send([(byte)i]));
        }

        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (byte)i), rb.Frames.Select(f => f[0]));

        conn.Close();
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Single(rb.Closed);
        Assert.False(conn.Send([1]));

        // A crashed peer: nothing arrives, nothing is closed.
        var conn2 = a.Connect(b.LocalEndPoint, null);
        time.Advance(TimeSpan.FromMilliseconds(10));
        net.Crash((InMemoryEndPoint)b.LocalEndPoint);
        conn2.Send([9]);
        a.SendDatagram(b.LocalEndPoint, [9]);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(100, rb.Frames.Count);
        Assert.Single(ra.Closed.Where(c => ReferenceEquals(c.Connection, conn2)).Take(0).DefaultIfEmpty());
        Assert.DoesNotContain(ra.Closed, c => ReferenceEquals(c.Connection, conn2));
    }

    [Fact]
    public void Connecting_to_nothing_is_refused()
    {
        var (time, _, a, _, ra, _) = Pair();
        var conn = a.Connect(new InMemoryEndPoint(99), null);
        time.Advance(TimeSpan.FromMilliseconds(10));
        var (closed, error) = Assert.Single(ra.Closed);
        Assert.Same(conn, closed);
        Assert.IsType<System.Net.Sockets.SocketException>(error);
    }

    [Fact]
    public void Bad_conditions_are_refused_by_name()
    {
        var (_, net, _, _, _, _) = Pair();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => net.Conditions = new NetworkConditions { Loss = 1.5 });
        Assert.Equal("Loss", ex.ParamName);
        var delay = Assert.Throws<ArgumentOutOfRangeException>(() => net.Conditions = new NetworkConditions { ReorderDelay = TimeSpan.FromMilliseconds(-1) });
        Assert.Equal("ReorderDelay", delay.ParamName);
        Assert.Equal(NetworkConditions.Perfect, net.Conditions);
        var split = net.Split([new InMemoryEndPoint(1)]);
        Assert.Throws<ArgumentException>(() => net.Split([new InMemoryEndPoint(2), new InMemoryEndPoint(1)]));
        Assert.True(net.CanReach(new InMemoryEndPoint(2), new InMemoryEndPoint(3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Split([new InMemoryEndPoint(2)], TimeSpan.Zero));
        net.HealAll();
        Assert.True(split.Healed);
        Assert.Throws<InvalidOperationException>(() => net.CreateTransport(new InMemoryEndPoint(1)));
        Assert.Throws<ArgumentException>(() => net.CreateTransport(new InMemoryEndPoint(3)).SendDatagram(new IPEndPoint(IPAddress.Loopback, 1), [1]));
    }
}
