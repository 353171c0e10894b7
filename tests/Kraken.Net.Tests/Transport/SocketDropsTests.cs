// Receive-buffer drops made visible: a flooded socket whose reader is paused shows the kernel's drop count, both
// on the owner's property and on the kraken.socket.packets.dropped instrument; the same for raw links in a namespace.
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Net.Tests.Link;
using Kraken.Net.Transport;

namespace Kraken.Net.Tests.Transport;

[Trait("Category", "Network")]
public sealed class SocketDropsTests
{
    /// <summary>A handler that blocks in the first datagram until released: the transport's reader is paused.</summary>
    private sealed class PausedHandler : ISyncTransportHandler
    {
        public ManualResetEventSlim Release { get; } = new();

        public ManualResetEventSlim Entered { get; } = new();

        public void OnDatagram(ReadOnlySpan<byte> datagram)
        {
            Entered.Set();
            Release.Wait(TimeSpan.FromSeconds(30));
        }

        public void OnConnected(IFrameConnection connection)
        {
        }

        public void OnFrame(IFrameConnection connection, ReadOnlySpan<byte> frame)
        {
        }

        public void OnClosed(IFrameConnection connection, Exception? error)
        {
        }
    }

    [Fact]
    public async Task A_flooded_sync_socket_with_a_paused_reader_counts_the_kernels_drops()
    {
        var handler = new PausedHandler();
        var transport = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0));
        try
        {
            transport.Start(handler);
            Assert.Equal(0, transport.ReceiveDrops);
            using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var target = new IPEndPoint(IPAddress.Loopback, transport.DatagramPort);
            var datagram = new byte[1200];
            sender.SendTo(datagram, target);
            Assert.True(handler.Entered.Wait(TimeSpan.FromSeconds(10)), "the reader never took the first datagram");

            // The reader is stuck in the handler: everything beyond the receive buffer is dropped by the kernel.
            for (var i = 0; i < 20_000 && transport.ReceiveDrops == 0; i++)
            {
                sender.SendTo(datagram, target);
            }

            var drops = transport.ReceiveDrops;
            Assert.True(drops > 0, "no drop counted after 20,000 datagrams into a paused socket");
            Assert.True(Observed("sync", transport.LocalEndPoint.ToString()!) >= drops);
        }
        finally
        {
            handler.Release.Set();
            await transport.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_closed_sockets_count_stays_on_the_counter()
    {
        var handler = new PausedHandler();
        var transport = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0));
        var local = transport.LocalEndPoint.ToString()!;
        long drops;
        try
        {
            transport.Start(handler);
            using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var target = new IPEndPoint(IPAddress.Loopback, transport.DatagramPort);
            for (var i = 0; i < 20_000 && transport.ReceiveDrops == 0; i++)
            {
                sender.SendTo(new byte[1200], target);
            }

            drops = transport.ReceiveDrops;
            Assert.True(drops > 0);
        }
        finally
        {
            handler.Release.Set();
            await transport.DisposeAsync();
        }

        Assert.True(Observed("sync", local) >= drops, "the counter went back when the socket closed");
    }

    [Theory]
    [InlineData(RawLinkKind.Pcap)]
    [InlineData(RawLinkKind.AfPacket)]
    public async Task A_flooded_raw_link_nobody_reads_counts_the_kernels_drops(RawLinkKind kind)
    {
        using var net = new VethNamespaces();
        await using var server = NetworkNamespace.OpenLink(net.NamespaceA, net.InterfaceA, kind, new RawLinkFilter(UdpPort: 67));
        await using var client = NetworkNamespace.OpenLink(net.NamespaceB, net.InterfaceB, RawLinkKind.AfPacket, new RawLinkFilter(UdpPort: 68));
        var real = Assert.IsAssignableFrom<IBlockingRawLink>(server);
        var sender = (IBlockingRawLink)client;
        Assert.Equal(0, real.ReceiveDrops);

        var frame = new byte[UdpFrame.HeaderLength + 300];
        UdpFrame.Write(frame, MacAddress.From(client.HardwareAddress), MacAddress.Broadcast, 0xC6124D02, Ipv4.Broadcast, 68, 67, new byte[300]);
        var sent = 0;
        while (sent < 200_000 && real.ReceiveDrops == 0)
        {
            for (var i = 0; i < 1000; i++)
            {
                sender.Send(frame);
            }

            sent += 1000;
        }

        Assert.True(real.ReceiveDrops > 0, $"no drop counted after {sent} frames into a link nobody reads");
    }

    /// <summary>The instrument's current value for one socket, as /metrics would read it.</summary>
    private static long Observed(string socket, string local)
    {
        long value = -1;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SocketDrops.MeterName && instrument.Name == "kraken.socket.packets.dropped")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, v, tags, _) =>
        {
            var s = tags.ToArray();
            if (s.Any(t => t.Key == "socket" && (string?)t.Value == socket) && s.Any(t => t.Key == "local" && (string?)t.Value == local))
            {
                value = v;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }
}
