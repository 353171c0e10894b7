// Answers IPv6 router solicitations on the boot segment, so network boot firmware stops waiting for them.
using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net;
using Kraken.Net.Link;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Pxe.Ipv6;

/// <summary>
/// A minimal router advertisement responder (RFC 4861 section 6). iPXE solicits routers when a NIC opens and
/// waits up to ~16 s for an answer before it finishes configuring; an advertisement with no prefix, M = 0,
/// O = 0 and router lifetime 0 ends that wait at once while configuring nothing on the client (no address, no
/// default route, no DHCPv6). Each valid solicitation (hop limit 255, code 0, well-formed) is answered
/// unicast to the soliciting host from our link-local address; anything else is dropped and counted.
/// </summary>
public sealed partial class RouterAdvertiser : IAsyncDisposable
{
    private const int EthernetHeader = 14;
    private const int Ipv6Header = 40;
    private const ushort EtherTypeIpv6 = 0x86DD;
    private const byte NextHeaderIcmpv6 = 58;
    private const byte RouterSolicitation = 133;
    private const byte RouterAdvertisement = 134;
    private const byte OptionSourceLinkLayer = 1;
    private const int AdvertisementLength = 16 + 8; // header + source link-layer address option

    /// <summary>The meter of the responder's counters (<c>kraken.pxe.ra.*</c>), at zero from the first responder's creation.</summary>
    public const string MeterName = "Kraken.Pxe";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_solicitations = s_meter.CreateCounter<long>("kraken.pxe.ra.solicitations.received", "{packet}", "Router solicitations received on boot segments.");
    private static readonly Counter<long> s_advertisements = s_meter.CreateCounter<long>("kraken.pxe.ra.advertisements.sent", "{packet}", "Router advertisements sent on boot segments.");
    private static readonly Counter<long> s_dropped = s_meter.CreateCounter<long>("kraken.pxe.ra.packets.dropped", "{packet}", "ICMPv6 frames that were not valid router solicitations.");

    private readonly IRawLink _link;
    private readonly ILogger _logger;
    private readonly byte[] _mac;
    private readonly byte[] _linkLocal;
    private CancellationTokenSource? _running;
    private long _solicitations;
    private long _advertisements;
    private long _dropped;

    /// <param name="link">A link whose filter passes ICMPv6 (<c>new RawLinkFilter(Icmpv6: true)</c>); the caller owns it.</param>
    /// <param name="logger">Where the responder logs.</param>
    public RouterAdvertiser(IRawLink link, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(logger);
        _link = link;
        _logger = logger;
        _mac = link.HardwareAddress.GetAddressBytes();
        if (_mac.Length != 6)
        {
            throw new ArgumentException($"Link {link.Name} has no Ethernet address.", nameof(link));
        }

        _linkLocal = LinkLocal(_mac);
        s_solicitations.Add(0);
        s_advertisements.Add(0);
        s_dropped.Add(0);
    }

    /// <summary>Our link-local source address (modified EUI-64 of the link's MAC).</summary>
    public IPAddress Address => new(_linkLocal);

    public long Solicitations => Interlocked.Read(ref _solicitations);

    public long Advertisements => Interlocked.Read(ref _advertisements);

    /// <summary>ICMPv6 frames that were not valid router solicitations.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Receives and answers until cancelled or the link is disposed.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Volatile.Write(ref _running, running);
        var receive = new byte[Math.Max(_link.Mtu, 1280) + EthernetHeader + 64];
        var send = new byte[EthernetHeader + Ipv6Header + AdvertisementLength];
        Log.Started(_logger, _link.Name, Address);
        while (!running.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await _link.ReceiveAsync(receive, running.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or System.Threading.Channels.ChannelClosedException)
            {
                break;
            }

            var tag = new KeyValuePair<string, object?>("interface", _link.Name);
            if (!TryParseSolicitation(receive.AsSpan(0, length), out var clientMac, out var clientAddress))
            {
                Interlocked.Increment(ref _dropped);
                s_dropped.Add(1, tag);
                continue;
            }

            Interlocked.Increment(ref _solicitations);
            s_solicitations.Add(1, tag);
            var n = WriteAdvertisement(send, clientMac, clientAddress);
            try
            {
                await _link.SendAsync(send.AsMemory(0, n), running.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _advertisements);
                s_advertisements.Add(1, tag);
                Log.Answered(_logger, _link.Name, new IPAddress(clientAddress));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.SendFailed(_logger, e, _link.Name);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

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
    /// True for a valid router solicitation (RFC 4861 6.1.1: hop limit 255, ICMP code 0, length at least 8, good
    /// checksum, well-formed options, and no source link-layer option when sent from the unspecified address).
    /// The answer goes to the frame's source MAC and its IPv6 source, or to all nodes when that is unspecified.
    /// </summary>
    internal static bool TryParseSolicitation(ReadOnlySpan<byte> frame, out byte[] mac, out byte[] address)
    {
        mac = [];
        address = [];
        if (frame.Length < EthernetHeader + Ipv6Header + 8 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherTypeIpv6)
        {
            return false;
        }

        var ip = frame[EthernetHeader..];
        var payload = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        if ((ip[0] >> 4) != 6 || ip[6] != NextHeaderIcmpv6 || ip[7] != 255 || payload < 8 || Ipv6Header + payload > ip.Length)
        {
            return false;
        }

        var icmp = ip.Slice(Ipv6Header, payload);
        if (icmp[0] != RouterSolicitation || icmp[1] != 0 || Checksum(ip[8..24], ip[24..40], icmp) != 0)
        {
            return false;
        }

        var source = ip[8..24];
        var unspecified = source.IndexOfAnyExcept((byte)0) < 0;
        for (var options = icmp[8..]; !options.IsEmpty;)
        {
            if (options.Length < 2 || options[1] == 0 || options[1] * 8 > options.Length)
            {
                return false;
            }

            if (options[0] == OptionSourceLinkLayer && unspecified)
            {
                return false;
            }

            options = options[(options[1] * 8)..];
        }

        if (unspecified)
        {
            mac = [0x33, 0x33, 0, 0, 0, 1];
            address = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        }
        else
        {
            mac = frame[6..12].ToArray();
            address = source.ToArray();
        }

        return true;
    }

    /// <summary>Writes the Ethernet frame of our advertisement to <paramref name="destination"/>; its length.</summary>
    internal int WriteAdvertisement(Span<byte> destination, ReadOnlySpan<byte> clientMac, ReadOnlySpan<byte> clientAddress)
    {
        var frame = destination[..(EthernetHeader + Ipv6Header + AdvertisementLength)];
        frame.Clear();
        clientMac.CopyTo(frame);
        _mac.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypeIpv6);

        var ip = frame[EthernetHeader..];
        ip[0] = 0x60;                                                     // version 6, traffic class 0, flow 0
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], AdvertisementLength);
        ip[6] = NextHeaderIcmpv6;
        ip[7] = 255;                                                      // hop limit: receivers check it is 255
        _linkLocal.CopyTo(ip[8..]);
        clientAddress.CopyTo(ip[24..]);

        var ra = ip[Ipv6Header..];
        ra[0] = RouterAdvertisement;
        ra[1] = 0;
        ra[4] = 0;                                                        // cur hop limit: unspecified
        ra[5] = 0;                                                        // M = 0, O = 0: no DHCPv6
        // Router lifetime (6-7), reachable time (8-11) and retransmit timer (12-15) stay 0: not a default router.
        ra[16] = OptionSourceLinkLayer;
        ra[17] = 1;                                                       // length in units of 8 bytes
        _mac.CopyTo(ra[18..]);
        BinaryPrimitives.WriteUInt16BigEndian(ra[2..], Checksum(ip[8..24], ip[24..40], ra));
        return frame.Length;
    }

    /// <summary>The ICMPv6 checksum (RFC 4443 2.3) over the pseudo-header and message; 0 when a received message checks out.</summary>
    internal static ushort Checksum(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> message)
    {
        ulong sum = 0;
        static ulong Add(ulong sum, ReadOnlySpan<byte> data)
        {
            var i = 0;
            for (; i + 1 < data.Length; i += 2)
            {
                sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            }

            if (i < data.Length)
            {
                sum += (ulong)data[i] << 8;
            }

            return sum;
        }

        sum = Add(sum, source);
        sum = Add(sum, destination);
        sum += (uint)message.Length;
        sum += NextHeaderIcmpv6;
        sum = Add(sum, message);
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    internal static byte[] LinkLocal(byte[] mac)
    {
        var a = new byte[16];
        a[0] = 0xfe;
        a[1] = 0x80;
        a[8] = (byte)(mac[0] ^ 0x02);
        a[9] = mac[1];
        a[10] = mac[2];
        a[11] = 0xff;
        a[12] = 0xfe;
        a[13] = mac[3];
        a[14] = mac[4];
        a[15] = mac[5];
        return a;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Router advertisements on {Link} from {Address} (no prefix, lifetime 0)")]
        public static partial void Started(ILogger logger, string link, IPAddress address);

        [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Router solicitation on {Link} from {Client}: answered")]
        public static partial void Answered(ILogger logger, string link, IPAddress client);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Sending a router advertisement on {Link} failed")]
        public static partial void SendFailed(ILogger logger, Exception exception, string link);
    }
}
