// The per-packet path with metrics on: one DISCOVER answered with an OFFER (the server counts the received
// DISCOVER and the sent OFFER on the Kraken.Dhcp meter, tagged by interface and type).
using System.Net;
using BenchmarkDotNet.Attributes;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Metrics.Bench;

[MemoryDiagnoser]
public class DhcpAnswerBenchmarks
{
    private static readonly MacAddress s_client = new(0x5254_0018_0010);
    private readonly byte[] _reply = new byte[1500];
    private IDisposable? _listener;
    private InMemorySegment? _segment;
    private DhcpServer? _server;
    private byte[] _discover = [];

    [Params(Exporter.None, Exporter.Kraken, Exporter.OpenTelemetry)]
    public Exporter Exporter { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _listener = Listeners.Start(Exporter);
        _segment = new InMemorySegment();
        var link = _segment.Attach("srv0", new MacAddress(0x0200_c612_0001).ToPhysicalAddress(), new RawLinkFilter(UdpPort: DhcpServer.ServerPort));
        var bindings = new DhcpBindingTable([new(s_client, new DhcpBinding(NodeId.FromName("n0010"), IPAddress.Parse("198.18.0.10"), 24, IPAddress.Parse("198.18.0.254"), "n0010"))]);
        _server = new DhcpServer(new DhcpServerOptions { ServerAddress = IPAddress.Parse("198.18.0.1") }, link, bindings, TimeProvider.System, NullLogger.Instance);

        var message = new byte[600];
        var writer = new DhcpWriter(message);
        writer.Header(DhcpMessage.BootRequest, 0x1234_5678, 3, 0, 0, 0, 0, 0, s_client);
        writer.Option(DhcpOption.MessageType, (byte)DhcpMessageType.Discover);
        var length = writer.Finish();
        _discover = new byte[UdpFrame.HeaderLength + length];
        UdpFrame.Write(_discover, s_client, MacAddress.Broadcast, 0, Ipv4.Broadcast, 68, 67, message.AsSpan(0, length));
        if (_server.Process(_discover, _reply) == 0)
        {
            throw new InvalidOperationException($"no OFFER: {_server.Counters}");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener?.Dispose();
        _server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark]
    public int AnswerDiscover() => _server!.Process(_discover, _reply);
}
