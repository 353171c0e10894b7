// What the DHCP server received, sent and dropped; mirrored to the "Kraken.Dhcp" meter, every series at zero from
// the server's start (docs/daemon.md, "Metrics").
using System.Diagnostics.Metrics;

namespace Kraken.Modules.Pxe.Dhcp;

public sealed class DhcpCounters
{
    public const string MeterName = "Kraken.Dhcp";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_received = s_meter.CreateCounter<long>("kraken.dhcp.messages.received", "{message}", "Client messages understood, by interface and type.");
    private static readonly Counter<long> s_sent = s_meter.CreateCounter<long>("kraken.dhcp.messages.sent", "{message}", "Replies sent, by interface and type.");
    private static readonly Counter<long> s_dropped = s_meter.CreateCounter<long>("kraken.dhcp.frames.dropped", "{frame}", "Frames not answered, by interface and reason (unknown_client: a MAC without a binding).");
    private static readonly DhcpMessageType[] s_clientTypes = [DhcpMessageType.Discover, DhcpMessageType.Request, DhcpMessageType.Decline, DhcpMessageType.Release, DhcpMessageType.Inform];
    private static readonly DhcpMessageType[] s_serverTypes = [DhcpMessageType.Offer, DhcpMessageType.Ack, DhcpMessageType.Nak];

    private static readonly string[] s_typeNames = Enumerable.Range(0, 9).Select(i => TypeName((DhcpMessageType)i)).ToArray();
    private static readonly string[] s_reasonNames = Enum.GetNames<DhcpDropReason>().Select(ToSnake).ToArray();

    private readonly long[] _received = new long[9];
    private readonly long[] _sent = new long[9];
    private readonly long[] _dropped = new long[s_reasonNames.Length];
    private readonly KeyValuePair<string, object?> _interface;

    internal DhcpCounters(string interfaceName)
    {
        _interface = new("interface", interfaceName);
        foreach (var type in s_clientTypes)
        {
            s_received.Add(0, _interface, Type(type));
        }

        foreach (var type in s_serverTypes)
        {
            s_sent.Add(0, _interface, Type(type));
        }

        foreach (var reason in s_reasonNames)
        {
            s_dropped.Add(0, _interface, new("reason", reason));
        }
    }

    public long Received(DhcpMessageType type) => Interlocked.Read(ref _received[(int)type]);

    public long Sent(DhcpMessageType type) => Interlocked.Read(ref _sent[(int)type]);

    public long Dropped(DhcpDropReason reason) => Interlocked.Read(ref _dropped[(int)reason]);

    public long UnknownClients => Dropped(DhcpDropReason.UnknownClient);

    public long TotalReceived => _received.Sum(v => Interlocked.Read(ref v));

    public long TotalSent => _sent.Sum(v => Interlocked.Read(ref v));

    public long TotalDropped => _dropped.Sum(v => Interlocked.Read(ref v));

    /// <summary>Non-zero drop counters, for logs and test failure messages.</summary>
    public override string ToString() =>
        $"received {TotalReceived}, sent {TotalSent}, dropped " +
        string.Join(", ", Enum.GetValues<DhcpDropReason>().Where(r => Dropped(r) != 0).Select(r => $"{r}={Dropped(r)}"));

    internal void OnReceived(DhcpMessageType type)
    {
        Interlocked.Increment(ref _received[(int)type]);
        s_received.Add(1, _interface, Type(type));
    }

    internal void OnSent(DhcpMessageType type)
    {
        Interlocked.Increment(ref _sent[(int)type]);
        s_sent.Add(1, _interface, Type(type));
    }

    internal void OnDropped(DhcpDropReason reason)
    {
        Interlocked.Increment(ref _dropped[(int)reason]);
        s_dropped.Add(1, _interface, new("reason", s_reasonNames[(int)reason]));
    }

    private static KeyValuePair<string, object?> Type(DhcpMessageType type) => new("type", s_typeNames[(int)type]);

    internal static string TypeName(DhcpMessageType type) => type switch
    {
        DhcpMessageType.Discover => "DISCOVER",
        DhcpMessageType.Offer => "OFFER",
        DhcpMessageType.Request => "REQUEST",
        DhcpMessageType.Decline => "DECLINE",
        DhcpMessageType.Ack => "ACK",
        DhcpMessageType.Nak => "NAK",
        DhcpMessageType.Release => "RELEASE",
        DhcpMessageType.Inform => "INFORM",
        _ => "NONE",
    };

    private static string ToSnake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
