// The DHCPv4 server of one segment: static addresses per MAC, PXE/iPXE/HTTP boot answers, relays.
// One receive loop parses each frame in place, writes the reply into a reused buffer and sends it.
using System.Net;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Pxe.Dhcp;

public sealed partial class DhcpServer : IAsyncDisposable
{
    public const ushort ServerPort = 67;
    public const ushort ClientPort = 68;

    private readonly DhcpServerOptions _options;
    private readonly IRawLink _link;
    private readonly IDhcpBindings _bindings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly uint _serverIp;
    private readonly string _serverAddressText;
    private readonly MacAddress _serverMac;
    private readonly uint _leaseSeconds;
    private readonly uint[] _dns;
    private readonly int _frameSize;
    private CancellationTokenSource? _running;
    private ushort _ipIdentification;
    private long _lastMalformedWarning;
    private long _malformedSinceWarning;

    private static readonly TimeSpan MalformedWarningInterval = TimeSpan.FromSeconds(10);

    public DhcpServer(DhcpServerOptions options, IRawLink link, IDhcpBindings bindings, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(bindings);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _link = link;
        _bindings = bindings;
        _time = time;
        _logger = logger;
        _serverIp = Ipv4.ToUInt32(options.ServerAddress);
        _serverAddressText = options.ServerAddress.ToString();
        _serverMac = MacAddress.From(link.HardwareAddress);
        _leaseSeconds = (uint)options.LeaseTime.TotalSeconds;
        _dns = options.DnsServers.Select(Ipv4.ToUInt32).ToArray();
        _frameSize = Math.Clamp(link.Mtu, 576, 9000) + UdpFrame.EthernetHeaderLength;
        Counters = new DhcpCounters(link.Name);
    }

    /// <summary>Raised on the receive loop for every understood client message; keep handlers short.</summary>
    public event Action<DhcpObservation>? Observed;

    public DhcpCounters Counters { get; }

    public DhcpServerOptions Options => _options;

    /// <summary>The longest reply frame the server writes: the link's MTU plus the Ethernet header.</summary>
    public int MaxFrameLength => _frameSize;

    /// <summary>Receives and answers until <paramref name="cancellationToken"/> is cancelled or the link is disposed.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (Interlocked.CompareExchange(ref _running, running, null) is not null)
        {
            throw new InvalidOperationException("the DHCP server is already running");
        }

        var token = running.Token;
        DhcpLog.Started(_logger, _link.Name, _link.HardwareAddress.ToString(), _options.ServerAddress.ToString());
        if (_link is IBlockingRawLink blocking)
        {
            try
            {
                // A real link gets a thread of its own: receive, answer and send without a thread-pool hop.
                await Task.Factory.StartNew(() => BlockingLoop(blocking, token), token, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Stopped.
            }
            finally
            {
                Interlocked.CompareExchange(ref _running, null, running);
            }

            return;
        }

        var receive = new byte[_frameSize + 64];
        var send = new byte[_frameSize];
        try
        {
            while (!token.IsCancellationRequested)
            {
                int length;
                try
                {
                    length = await _link.ReceiveAsync(receive, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is ObjectDisposedException or System.Threading.Channels.ChannelClosedException)
                {
                    break;
                }

                var reply = Process(receive.AsSpan(0, length), send);
                if (reply == 0)
                {
                    continue;
                }

                try
                {
                    await _link.SendAsync(send.AsMemory(0, reply), token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Counters.OnDropped(DhcpDropReason.SendFailed);
                    DhcpLog.SendFailed(_logger, e, MacAddress.Read(send.AsSpan(0, 6)).ToString(), _link.Name);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            DhcpLog.ReceiveFailed(_logger, e, _link.Name);
            throw;
        }
        finally
        {
            Interlocked.CompareExchange(ref _running, null, running);
        }
    }

    private void BlockingLoop(IBlockingRawLink link, CancellationToken token)
    {
        var receive = new byte[_frameSize + 64];
        var send = new byte[_frameSize];
        while (!token.IsCancellationRequested)
        {
            int length;
            try
            {
                length = link.Receive(receive, token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (Exception e)
            {
                DhcpLog.ReceiveFailed(_logger, e, _link.Name);
                throw;
            }

            var reply = Process(receive.AsSpan(0, length), send);
            if (reply == 0)
            {
                continue;
            }

            try
            {
                link.Send(send.AsSpan(0, reply));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Counters.OnDropped(DhcpDropReason.SendFailed);
                DhcpLog.SendFailed(_logger, e, MacAddress.Read(send.AsSpan(0, 6)).ToString(), _link.Name);
            }
        }
    }

    /// <summary>Stops <see cref="RunAsync"/>; the link belongs to the caller and is not disposed.</summary>
    public ValueTask DisposeAsync()
    {
        try
        {
            Volatile.Read(ref _running)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // RunAsync finished meanwhile.
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Answers one received Ethernet frame synchronously, on the caller's thread: the code path of the receive
    /// loops, for a caller that moves frames itself (the simulator on its virtual clock, a benchmark). Writes the
    /// reply frame into <paramref name="reply"/> (<see cref="MaxFrameLength"/> bytes) and returns its
    /// length, or 0 when there is nothing to send; a frame that is malformed, not for us or from an unknown MAC
    /// is dropped and counted in <see cref="Counters"/> by reason, and nothing about one frame ever throws.
    /// Not thread-safe against itself: one caller at a time, and not while <see cref="RunAsync"/> runs.
    /// </summary>
    public int Process(ReadOnlySpan<byte> frame, Span<byte> reply)
    {
        try
        {
            return ProcessFrame(frame, reply);
        }
        catch (DhcpReplyTooLargeException)
        {
            return Drop(DhcpDropReason.ReplyTooLarge);
        }
        catch (Exception e)
        {
            DhcpLog.InternalError(_logger, e, _link.Name);
            return Drop(DhcpDropReason.InternalError);
        }
    }

    /// <summary>
    /// Handles one received frame; writes the reply frame into <paramref name="output"/> and returns its length,
    /// or 0 when there is nothing to send.
    /// </summary>
    private int ProcessFrame(ReadOnlySpan<byte> frame, Span<byte> output)
    {
        var status = UdpFrame.Parse(frame, out var udp, acceptPartialChecksum: true);
        if (status != UdpParseStatus.Ok)
        {
            return Drop(status is UdpParseStatus.NotIpv4 or UdpParseStatus.NotUdp ? DhcpDropReason.NotDhcp : DhcpDropReason.BadFrame);
        }

        if (udp.DestinationPort != ServerPort)
        {
            return Drop(DhcpDropReason.NotDhcp);
        }

        if (udp.DestinationIp != Ipv4.Broadcast && udp.DestinationIp != _serverIp)
        {
            return Drop(DhcpDropReason.NotForUs);
        }

        var datagram = udp.Payload(frame);
        if (!DhcpCodec.TryParse(datagram, out var message, out var reason))
        {
            return Drop(reason);
        }

        if (message.Op != DhcpMessage.BootRequest)
        {
            return Drop(DhcpDropReason.WrongOp);
        }

        if (message.HardwareType != 1 || message.HardwareLength != MacAddress.Length)
        {
            return Drop(DhcpDropReason.BadHardwareAddress);
        }

        if (message.MessageType is not (DhcpMessageType.Discover or DhcpMessageType.Request or DhcpMessageType.Decline
            or DhcpMessageType.Release or DhcpMessageType.Inform))
        {
            return Drop(DhcpDropReason.BadMessageType);
        }

        Counters.OnReceived(message.MessageType);
        var request = new Request(datagram, message, udp);
        if (!TryGetBinding(message.ClientMac, out var binding))
        {
            Observe(in request, null, null, acked: false);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                DhcpLog.UnknownClient(_logger, DhcpCounters.TypeName(message.MessageType), message.ClientMac.ToString());
            }
            return Drop(DhcpDropReason.UnknownClient);
        }

        return message.MessageType switch
        {
            DhcpMessageType.Discover => Offer(in request, binding, output),
            DhcpMessageType.Request => Acknowledge(in request, binding, output),
            DhcpMessageType.Decline => Decline(in request, binding),
            DhcpMessageType.Release => Release(in request, binding),
            _ => Inform(in request, binding, output),
        };
    }

    private bool TryGetBinding(MacAddress mac, out DhcpBinding binding) => _bindings switch
    {
        DhcpBindingTable table => table.TryGet(mac, out binding),
        StoreDhcpBindings store => store.TryGet(mac, out binding),
        _ => _bindings.TryGet(mac.ToPhysicalAddress(), out binding),
    };

    private int Drop(DhcpDropReason reason)
    {
        Counters.OnDropped(reason);
        if (reason is DhcpDropReason.UnknownClient or DhcpDropReason.OtherServer or DhcpDropReason.NotForUs)
        {
            return 0;   // normal on a shared segment
        }

        DhcpLog.Dropped(_logger, _link.Name, reason);

        // Malformed traffic is worth a warning, but at most one per interval however much of it arrives.
        _malformedSinceWarning++;
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(_lastMalformedWarning, now) >= MalformedWarningInterval || _lastMalformedWarning == 0)
        {
            DhcpLog.MalformedTraffic(_logger, _malformedSinceWarning, _link.Name, reason);
            _malformedSinceWarning = 0;
            _lastMalformedWarning = now;
        }

        return 0;
    }

    private void Observe(in Request request, DhcpBinding? binding, IPAddress? assigned, bool acked)
    {
        var observed = Observed;
        if (observed is null)
        {
            return;
        }

        var m = request.Message;
        var observation = new DhcpObservation(m.ClientMac.ToPhysicalAddress(), binding?.Node, DhcpCounters.TypeName(m.MessageType),
            m.Arch, m.IsIpxe(request.Datagram), assigned, acked);
        try
        {
            observed(observation);
        }
        catch (Exception e)
        {
            DhcpLog.ObserverThrew(_logger, e);
        }
    }

    /// <summary>A received message with the datagram its slices point into.</summary>
    private readonly ref struct Request(ReadOnlySpan<byte> datagram, DhcpMessage message, UdpFrameInfo frame)
    {
        public ReadOnlySpan<byte> Datagram { get; } = datagram;

        public DhcpMessage Message { get; } = message;

        public UdpFrameInfo Frame { get; } = frame;
    }
}
