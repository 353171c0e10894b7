// A DHCP server on an in-memory segment with a client port and a relay port, for the functional tests.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Modules.Tests.Pxe.Dhcp;

internal sealed class InMemoryDhcp : IAsyncDisposable
{
    public static readonly MacAddress ServerMac = new(0x0200_c612_0001);
    public static readonly MacAddress ClientMac = new(0x5254_0018_0010);
    public static readonly MacAddress RelayMac = new(0x0200_c612_0101);
    public static readonly NodeId Node = NodeId.FromName("n0010");

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public InMemoryDhcp(Action<DhcpServerOptions>? configure = null, IDhcpBindings? bindings = null)
    {
        Segment = new InMemorySegment();
        ServerLink = Segment.Attach("srv0", ServerMac.ToPhysicalAddress(), new RawLinkFilter(UdpPort: DhcpServer.ServerPort));
        ClientLink = Segment.Attach("cli0", ClientMac.ToPhysicalAddress(), new RawLinkFilter(UdpPort: DhcpServer.ClientPort));
        RelayLink = Segment.Attach("rly0", RelayMac.ToPhysicalAddress(), new RawLinkFilter(UdpPort: DhcpServer.ServerPort));
        var options = new DhcpServerOptions
        {
            ServerAddress = IPAddress.Parse("198.18.0.1"),
            LeaseTime = TimeSpan.FromMinutes(20),
            DnsServers = [IPAddress.Parse("198.18.0.1"), IPAddress.Parse("198.18.0.2")],
            DomainName = "cluster.test",
            HttpBootUrl = "http://198.18.0.1:8080/boot/{node}/shim.efi",
            IpxeScriptUrl = "http://198.18.0.1:8080/boot/{node}.ipxe?mac={mac}",
        };
        configure?.Invoke(options);
        Bindings = bindings ?? new DhcpBindingTable(
        [
            new(ClientMac, new DhcpBinding(Node, IPAddress.Parse("198.18.0.10"), 24, IPAddress.Parse("198.18.0.254"), "n0010")),
            new(RelayedMac, new DhcpBinding(RelayedNode, IPAddress.Parse("198.18.1.20"), 24, IPAddress.Parse("198.18.1.1"), "n0120")),
        ]);
        Server = new DhcpServer(options, ServerLink, Bindings, TimeProvider.System, NullLogger.Instance);
        Server.Observed += o =>
        {
            lock (Observations)
            {
                Observations.Add(o);
            }
        };
        _run = Server.RunAsync(_stop.Token);
    }

    public static MacAddress RelayedMac { get; } = new(0x5254_0018_0120);

    public static NodeId RelayedNode { get; } = NodeId.FromName("n0120");

    public InMemorySegment Segment { get; }

    public IRawLink ServerLink { get; }

    public IRawLink ClientLink { get; }

    public IRawLink RelayLink { get; }

    public IDhcpBindings Bindings { get; }

    public DhcpServer Server { get; }

    public List<DhcpObservation> Observations { get; } = [];

    public Task Send(byte[] frame) => ClientLink.SendAsync(frame).AsTask();

    /// <summary>Sends <paramref name="payload"/> from the client and returns the reply the client (or relay) link receives.</summary>
    public async Task<Reply> Exchange(byte[] payload, MacAddress? from = null, bool viaRelay = false, uint sourceIp = 0, uint destinationIp = Ipv4.Broadcast)
    {
        var sender = viaRelay ? RelayLink : ClientLink;
        var frame = DhcpFrames.Frame(payload, viaRelay ? RelayMac : from ?? ClientMac, sourceIp, destinationIp,
            destinationIp == Ipv4.Broadcast ? MacAddress.Broadcast : ServerMac, sourcePort: viaRelay ? (ushort)67 : (ushort)68);
        await sender.SendAsync(frame);
        return await Receive(viaRelay ? RelayLink : ClientLink);
    }

    public static async Task<Reply> Receive(IRawLink link, int milliseconds = 5000)
    {
        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(milliseconds);
        var length = await link.ReceiveAsync(buffer, timeout.Token);
        var frame = buffer[..length];
        Assert.Equal(UdpParseStatus.Ok, UdpFrame.Parse(frame, out var udp));
        var payload = udp.Payload(frame).ToArray();
        Assert.True(DhcpCodec.TryParse(payload, out var message, out var reason), reason.ToString());
        return new Reply(udp, message, payload);
    }

    /// <summary>Asserts nothing reaches the client within a short while.</summary>
    public async Task ExpectSilence(IRawLink? link = null)
    {
        var buffer = new byte[2048];
        using var brief = new CancellationTokenSource(200);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await (link ?? ClientLink).ReceiveAsync(buffer, brief.Token));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(5));
        await Server.DisposeAsync();
        await ServerLink.DisposeAsync();
        await ClientLink.DisposeAsync();
        await RelayLink.DisposeAsync();
        _stop.Dispose();
    }
}

internal sealed record Reply(UdpFrameInfo Udp, DhcpMessage Message, byte[] Payload)
{
    public ReadOnlySpan<byte> Option(byte code) => Find(Payload, code);

    public uint Address(byte code) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(Option(code));

    public string Text(byte code) => System.Text.Encoding.ASCII.GetString(Option(code));

    public bool Has(byte code) => Find(Payload, code, out _);

    public string File => System.Text.Encoding.ASCII.GetString(Message.BootFile.Of(Payload));

    private static ReadOnlySpan<byte> Find(ReadOnlySpan<byte> payload, byte code) =>
        Find(payload, code, out var range) ? payload[range] : throw new Xunit.Sdk.XunitException($"option {code} missing");

    private static bool Find(ReadOnlySpan<byte> payload, byte code, out Range range)
    {
        var i = DhcpCodec.OptionsOffset;
        while (i < payload.Length && payload[i] != DhcpOption.End)
        {
            if (payload[i] == DhcpOption.Pad)
            {
                i++;
                continue;
            }

            if (payload[i] == code)
            {
                range = new Range(i + 2, i + 2 + payload[i + 1]);
                return true;
            }

            i += 2 + payload[i + 1];
        }

        range = default;
        return false;
    }
}

internal static class Ip
{
    public static uint Of(string text) => Ipv4.ToUInt32(IPAddress.Parse(text));

    public static PhysicalAddress Mac(MacAddress mac) => mac.ToPhysicalAddress();
}
