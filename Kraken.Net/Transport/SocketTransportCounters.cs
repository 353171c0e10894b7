// What the sync port refused, cut short or could not accept, mirrored to the "Kraken.Sync" meter.
using System.Diagnostics.Metrics;

namespace Kraken.Net.Transport;

/// <summary>Why an inbound stream was refused at accept or closed by the transport before its peer closed it.</summary>
public enum StreamCut : byte
{
    /// <summary>Refused: <see cref="SocketTransportLimits.MaxStreams"/> inbound streams were open.</summary>
    Limit,

    /// <summary>Refused: <see cref="SocketTransportLimits.MaxStreamsPerSource"/> were open from its address.</summary>
    SourceLimit,

    /// <summary>Closed: no whole frame within <see cref="SocketTransportLimits.HandshakeTimeout"/>.</summary>
    HandshakeTimeout,

    /// <summary>Closed: no whole frame for <see cref="SocketTransportLimits.IdleTimeout"/>.</summary>
    IdleTimeout,

    /// <summary>Closed: it announced a frame above <see cref="SocketTransportLimits.UnauthenticatedFrameLimit"/> without being a neighbour.</summary>
    Oversize,
}

/// <summary>Counters of one <see cref="SocketTransport"/>, readable from any thread.</summary>
public sealed class SocketTransportCounters
{
    private static readonly string[] s_names = ["limit", "source_limit", "handshake_timeout", "idle_timeout", "unauthenticated_oversize"];
    private static readonly Meter s_meter = new("Kraken.Sync");
    private static readonly Counter<long> s_refused = s_meter.CreateCounter<long>("kraken.sync.streams.refused", "{stream}", "Inbound sync streams refused at accept, by reason.");
    private static readonly Counter<long> s_cut = s_meter.CreateCounter<long>("kraken.sync.streams.closed", "{stream}", "Inbound sync streams the transport closed, by reason.");
    private static readonly Counter<long> s_acceptErrors = s_meter.CreateCounter<long>("kraken.sync.accepts.failed", "{accept}", "Failed accepts on the sync port, by error (fd_exhausted: no file descriptor left).");

    private readonly long[] _cuts = new long[s_names.Length];
    private long _acceptErrors;
    private long _open;

    public SocketTransportCounters()
    {
        // Every series at zero from the start (docs/daemon.md, "Metrics").
        for (var why = 0; why < s_names.Length; why++)
        {
            (why <= (int)StreamCut.SourceLimit ? s_refused : s_cut).Add(0, new KeyValuePair<string, object?>("reason", s_names[why]));
        }

        foreach (var error in (ReadOnlySpan<string>)["fd_exhausted", "other"])
        {
            s_acceptErrors.Add(0, new KeyValuePair<string, object?>("error", error));
        }
    }

    /// <summary>Inbound streams open now.</summary>
    public long OpenInbound => Volatile.Read(ref _open);

    public long Cuts(StreamCut why) => Volatile.Read(ref _cuts[(int)why]);

    public long AcceptErrors => Volatile.Read(ref _acceptErrors);

    internal static string Name(StreamCut why) => s_names[(int)why];

    internal long Opened() => Interlocked.Increment(ref _open);

    internal void Closed() => Interlocked.Decrement(ref _open);

    internal void OnCut(StreamCut why)
    {
        Interlocked.Increment(ref _cuts[(int)why]);
        var tag = new KeyValuePair<string, object?>("reason", Name(why));
        if (why is StreamCut.Limit or StreamCut.SourceLimit)
        {
            s_refused.Add(1, tag);
        }
        else
        {
            s_cut.Add(1, tag);
        }
    }

    internal void OnAcceptError(string error)
    {
        Interlocked.Increment(ref _acceptErrors);
        s_acceptErrors.Add(1, new KeyValuePair<string, object?>("error", error));
    }
}
