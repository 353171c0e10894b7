// Simulated boots through the real DHCP server: every parent that boots children runs a DhcpServer over its own
// store, and each booting node's firmware runs a minimal DHCP client whose frames cross the virtual network.
using Kraken.Modules.Pxe;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Sim.Cluster;

internal sealed partial class SimCluster
{
    /// <summary>First address of the simulated nodes' network, 198.18.0.0/15; node i has the (i+1)-th address.</summary>
    public const uint NetworkBase = 0xC612_0000;

    /// <summary>The prefix every simulated interface gets: the whole cluster is one flat /15.</summary>
    public const int PrefixLength = 15;

    /// <summary>Indices 0..MaxIndex have an address in 198.18.0.0/15 (its broadcast address excluded).</summary>
    public const int MaxIndex = 131_069;

    /// <summary>The interface name in the IPv4 extension, the one the DHCP bindings prefer.</summary>
    public const string InterfaceName = "kraken";

    /// <summary>A PXE ROM waits 4, 8, 16 and 32 s for an answer, then gives up.</summary>
    private static readonly TimeSpan[] s_backoff = [TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(16), TimeSpan.FromSeconds(32)];

    private static readonly byte[] s_vendorClass = "PXEClient:Arch:00000:UNDI:002001"u8.ToArray();
    private static readonly byte[] s_parameters = [1, 3, 6, 12, 15, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135, 175];

    private readonly Stack<byte[]> _framePool = new();
    private readonly List<DhcpServer> _dhcpServers = [];
    private DhcpServer?[]? _dhcp;
    private DhcpClientState[]? _clients;

    /// <summary>The firmware MAC of node <paramref name="index"/>: locally administered 02:00:xx:xx:xx:xx.</summary>
    public static ulong MacOf(int index) => 0x0200_0000_0000UL | (uint)index;

    /// <summary>Node <paramref name="index"/>'s address in 198.18.0.0/15.</summary>
    public static uint AddressOf(int index) => (uint)index <= MaxIndex
        ? NetworkBase + (uint)index + 1
        : throw new ArgumentException($"a simulated cluster has at most {MaxIndex:N0} nodes below the root (addresses in 198.18.0.0/15).");

    /// <summary>DHCP traffic and outcomes of the run.</summary>
    public DhcpTotals Dhcp { get; } = new();

    /// <summary>The DHCP server of parent <paramref name="node"/> while its daemon runs.</summary>
    public DhcpServer? DhcpServerOf(int node) => _dhcp?[node];

    /// <summary>The address the DHCP server last acknowledged to node <paramref name="node"/> (0 when none yet).</summary>
    public uint LeaseOf(int node) => _clients?[node].Leased ?? 0;

    /// <summary>Every server the run created, including those of parents that have since stopped.</summary>
    public IReadOnlyList<DhcpServer> DhcpServers => _dhcpServers;

    private bool RealDhcp => Settings.Dhcp == DhcpMode.Real;

    /// <summary>A parent's DHCP server: bindings from its own store, restricted to its children; what it sees goes to <paramref name="pxe"/>.</summary>
    private IDisposable? StartDhcpServer(int node, StateStore store, PxeModule pxe)
    {
        if (!RealDhcp)
        {
            return null;
        }

        _dhcp ??= new DhcpServer?[Topology.Tier.Length];
        var bindings = new StoreDhcpBindings(store, IsChildOf(node));
        var segment = new InMemorySegment(queueCapacity: 1);
        var link = segment.Attach("sim" + node.ToString(System.Globalization.CultureInfo.InvariantCulture),
            new MacAddress(MacOf(node)).ToPhysicalAddress());
        var server = new DhcpServer(new DhcpServerOptions { ServerAddress = Ipv4.ToAddress(AddressOf(node)) }, link, bindings, Time, NullLogger.Instance);

        // As in the daemon's PXE services: an ACK to a boot client moves the node to PXE INIT (and RunState INIT).
        server.Observed += o => pxe.ObserveDhcp(o.Mac, o.Node, o.Acked, o.IsIpxe || o.Arch != DhcpClientArch.Other);
        _dhcp[node] = server;
        _dhcpServers.Add(server);
        return new DhcpServerHandle(this, node, server, bindings, link);
    }

    /// <summary>The firmware of boot <paramref name="boot"/> has run: its DHCP client sends the first DISCOVER.</summary>
    private void StartDhcpClient(int node, int boot)
    {
        _clients ??= new DhcpClientState[Topology.Tier.Length];
        ref var c = ref _clients[node];
        c = new DhcpClientState { Boot = boot, Xid = (uint)Random.Next() | 1u, Stage = DhcpStage.Selecting, Started = Time.Elapsed };
        SendClientMessage(node, ref c);
    }

    private void SendClientMessage(int node, ref DhcpClientState c)
    {
        var frame = RentFrame();
        var payload = frame.AsSpan(UdpFrame.HeaderLength);
        var w = new DhcpWriter(payload);
        var mac = new MacAddress(MacOf(node));
        w.Header(DhcpMessage.BootRequest, c.Xid, (ushort)Math.Min(ushort.MaxValue, (Time.Elapsed - c.Started).TotalSeconds), 0, 0, 0, 0, 0, mac);
        w.Option(DhcpOption.MessageType, (byte)(c.Stage == DhcpStage.Selecting ? DhcpMessageType.Discover : DhcpMessageType.Request));
        if (c.Stage == DhcpStage.Requesting)
        {
            w.OptionUInt32(DhcpOption.RequestedAddress, c.Offered);
            w.OptionUInt32(DhcpOption.ServerIdentifier, c.Server);
        }

        w.OptionUInt16(DhcpOption.MaxMessageSize, 1472);
        w.OptionUInt16(DhcpOption.ClientArch, 0);
        w.Option(DhcpOption.VendorClass, s_vendorClass);
        w.Option(DhcpOption.ParameterRequestList, s_parameters);
        var length = UdpFrame.WriteHeaders(frame, mac, MacAddress.Broadcast, 0, Ipv4.Broadcast, DhcpServer.ClientPort, DhcpServer.ServerPort, w.Finish());
        if (c.Attempt > 0)
        {
            Dhcp.Retransmissions++;
        }

        Dhcp.ClientFrames[Topology.Tier[node]]++;
        Transmit(SimEventKind.DhcpToServer, node, frame, length);
        c.TimeoutDue = Time.GetUtcNow().UtcTicks + s_backoff[c.Attempt].Ticks;
        Wheel.Schedule(s_backoff[c.Attempt], new SimEvent(SimEventKind.DhcpTimeout, node, null, c.Boot));
    }

    /// <summary>
    /// One hop on the segment between <paramref name="node"/> and its parent, under the network's conditions: lost
    /// with the run's loss rate (or when a partition separates the two), else delivered after its latency (and
    /// jitter), sometimes held back so later frames overtake it, and sometimes twice.
    /// </summary>
    private void Transmit(SimEventKind kind, int node, byte[] frame, int length)
    {
        var s = Settings;
        if ((s.Loss > 0 && Random.NextDouble() < s.Loss) || !ParentReachable(node))
        {
            Dhcp.Lost++;
            _framePool.Push(frame);
            return;
        }

        if (s.Duplicate > 0 && Random.NextDouble() < s.Duplicate)
        {
            var copy = RentFrame();
            frame.AsSpan(0, length).CopyTo(copy);
            Wheel.Schedule(HopDelay(), new SimEvent(kind, node, new DhcpFrame(copy, length)));
        }

        Wheel.Schedule(HopDelay(), new SimEvent(kind, node, new DhcpFrame(frame, length)));
    }

    private bool ParentReachable(int node) => Topology.Parent[node] is var parent and >= 0
        && Network.CanReach(EndPointOf(Topology.Ids[node]), EndPointOf(Topology.Ids[parent]));

    private TimeSpan HopDelay()
    {
        var s = Settings;
        var delay = s.Jitter > TimeSpan.Zero ? s.Latency + (s.Jitter * Random.NextDouble()) : s.Latency;
        return s.Reorder > 0 && Random.NextDouble() < s.Reorder ? delay + s.Conditions.HoldBack(Random.NextDouble()) : delay;
    }

    private void OnDhcpEvent(SimEvent e)
    {
        switch (e.Kind)
        {
            case SimEventKind.DhcpToServer:
                ServerReceives(e.Node, (DhcpFrame)e.Payload!);
                break;
            case SimEventKind.DhcpToClient:
                ClientReceives(e.Node, (DhcpFrame)e.Payload!);
                break;
            case SimEventKind.DhcpTimeout:
                ClientTimeout(e.Node, e.Boot);
                break;
        }
    }

    /// <summary>The frame reaches the booting node's parent, whose server answers it at once (or stays silent).</summary>
    private void ServerReceives(int node, DhcpFrame received)
    {
        var parent = Topology.Parent[node];
        if (parent < 0 || _dhcp?[parent] is not { } server)
        {
            _framePool.Push(received.Buffer);
            Dhcp.NoServer++;
            return;
        }

        var reply = RentFrame();
        var length = server.Process(received.Buffer.AsSpan(0, received.Length), reply);
        _framePool.Push(received.Buffer);
        if (length == 0)
        {
            _framePool.Push(reply);
            return;
        }

        Dhcp.ServerFrames[Topology.Tier[parent]]++;
        Transmit(SimEventKind.DhcpToClient, node, reply, length);
    }

    /// <summary>The firmware parses the reply with the project's codecs and takes the next step of the exchange.</summary>
    private void ClientReceives(int node, DhcpFrame received)
    {
        try
        {
            if (_clients is null || _clients[node].Stage is not (DhcpStage.Selecting or DhcpStage.Requesting))
            {
                return;
            }

            ref var c = ref _clients[node];
            if (!IsCurrentBoot(node, c.Boot))
            {
                c.Stage = DhcpStage.Idle;   // the machine lost power since this exchange began
                return;
            }

            var frame = received.Buffer.AsSpan(0, received.Length);
            if (UdpFrame.Parse(frame, out var udp) != UdpParseStatus.Ok || udp.DestinationPort != DhcpServer.ClientPort)
            {
                throw new InvalidOperationException($"node {node}: the DHCP server sent a frame that is not a DHCP reply");
            }

            var datagram = udp.Payload(frame);
            if (!DhcpCodec.TryParse(datagram, out var m, out var reason))
            {
                throw new InvalidOperationException($"node {node}: the DHCP server sent a reply the codec refuses ({reason})");
            }

            if (m.Op != DhcpMessage.BootReply || m.TransactionId != c.Xid || m.ClientMac.Value != MacOf(node))
            {
                return;   // an answer to an earlier exchange (the node was rebooted meanwhile), or a duplicate
            }

            switch (c.Stage, m.MessageType)
            {
                case (DhcpStage.Selecting, DhcpMessageType.Offer):
                    c.Offered = m.YourAddress;
                    c.Server = m.ServerIdentifier ?? 0;
                    c.Stage = DhcpStage.Requesting;
                    c.Attempt = 0;
                    SendClientMessage(node, ref c);
                    break;
                case (DhcpStage.Requesting, DhcpMessageType.Ack):
                    if (m.YourAddress != AddressOf(node))
                    {
                        throw new InvalidOperationException(
                            $"node {node} was acknowledged {Ipv4.ToAddress(m.YourAddress)}, but its Cfg names {Ipv4.ToAddress(AddressOf(node))}");
                    }

                    c.Leased = m.YourAddress;
                    c.Stage = DhcpStage.Bound;
                    Dhcp.Leases++;
                    Leased(node, c.Boot);
                    break;
                case (DhcpStage.Requesting, DhcpMessageType.Nak):
                    c.Stage = DhcpStage.Selecting;
                    c.Attempt = 0;
                    SendClientMessage(node, ref c);
                    break;
            }
        }
        finally
        {
            _framePool.Push(received.Buffer);
        }
    }

    /// <summary>No answer in time: send the same message again after a doubled wait, up to four times, then give up.</summary>
    private void ClientTimeout(int node, int boot)
    {
        ref var c = ref _clients![node];
        if (c.Boot != boot || c.Stage is not (DhcpStage.Selecting or DhcpStage.Requesting)
            || c.TimeoutDue != Time.GetUtcNow().UtcTicks)
        {
            return;   // answered meanwhile, or a timer of an earlier message or boot
        }

        if (!IsCurrentBoot(node, boot))
        {
            c.Stage = DhcpStage.Idle;
            return;
        }

        if (++c.Attempt >= s_backoff.Length)
        {
            // The ROM reports "No DHCP offers were received"; the step times out at the parent and fails to PHYS_HANG.
            c.Stage = DhcpStage.Failed;
            Dhcp.GaveUp++;
            return;
        }

        SendClientMessage(node, ref c);
    }

    private byte[] RentFrame() => _framePool.TryPop(out var b) ? b : new byte[UdpFrame.EthernetHeaderLength + 1500];

    /// <summary>Stops a parent's server with its daemon: its table stops following the store.</summary>
    private sealed class DhcpServerHandle(SimCluster cluster, int node, DhcpServer server, StoreDhcpBindings bindings, IRawLink link) : IDisposable
    {
        public void Dispose()
        {
            if (ReferenceEquals(cluster._dhcp![node], server))
            {
                cluster._dhcp[node] = null;
            }

            bindings.Dispose();
            _ = link.DisposeAsync();
        }
    }

    private sealed record DhcpFrame(byte[] Buffer, int Length);

    private enum DhcpStage : byte
    {
        Idle,
        Selecting,
        Requesting,
        Bound,
        Failed,
    }

    /// <summary>The firmware's DHCP client of one node: where its exchange stands.</summary>
    private struct DhcpClientState
    {
        public int Boot;
        public uint Xid;
        public DhcpStage Stage;
        public int Attempt;
        public uint Offered;
        public uint Server;
        public uint Leased;
        public long TimeoutDue;
        public TimeSpan Started;
    }
}

/// <summary>Whether the PXE phase's DHCP exchange runs through the real server or is part of the PXE delay.</summary>
internal enum DhcpMode
{
    Real,
    Delay,
}

/// <summary>DHCP frames and outcomes of a run; the servers' own counters are in <see cref="DhcpServer.Counters"/>.</summary>
internal sealed class DhcpTotals
{
    /// <summary>DISCOVERs and REQUESTs sent by the booting nodes of each tier (index 0 unused).</summary>
    public long[] ClientFrames { get; } = new long[9];

    /// <summary>OFFERs, ACKs and NAKs sent by the servers of the parents of each tier (0 = the root).</summary>
    public long[] ServerFrames { get; } = new long[9];

    public long Retransmissions { get; set; }

    public long Lost { get; set; }

    /// <summary>Frames that reached a parent whose daemon (and so its server) was not running.</summary>
    public long NoServer { get; set; }

    public long Leases { get; set; }

    /// <summary>Exchanges abandoned after the last retransmission went unanswered.</summary>
    public long GaveUp { get; set; }
}
