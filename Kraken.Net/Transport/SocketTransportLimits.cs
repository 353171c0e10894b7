// What the sync port lets a peer hold before it has proven it holds the cluster's keys.
namespace Kraken.Net.Transport;

/// <summary>
/// Limits on the streams a <see cref="SocketTransport"/> accepts. Every inbound stream is short-lived (a join, or
/// one bulk frame from a neighbour), so a stream that says nothing, says it slowly, or announces a large frame
/// without coming from a neighbour is a cost to cut, not a peer to wait for. Outbound streams (ones this side
/// opens to a configured parent or a known neighbour) are not limited here; the sync engine's join timeout
/// bounds them.
/// </summary>
public sealed record SocketTransportLimits
{
    /// <summary>Inbound streams open at once; more are refused at accept (closed at once).</summary>
    public int MaxStreams { get; init; } = 1024;

    /// <summary>Inbound streams open at once from one source address.</summary>
    public int MaxStreamsPerSource { get; init; } = 64;

    /// <summary>An inbound stream must deliver its first whole frame within this time, or it is closed.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After its first frame, an inbound stream that completes no frame for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The largest frame payload an inbound stream may announce unless its header names a neighbour whose
    /// adjacency is up at the stream's source address (<see cref="ISyncTransportHandler.AdmitsLargeFrame"/>).
    /// Join messages are far below it; a larger announcement from anyone else closes the stream before its
    /// body is buffered.
    /// </summary>
    public int UnauthenticatedFrameLimit { get; init; } = 64 << 10;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first property out of range.</summary>
    public void Validate()
    {
        if (MaxStreams < 1)
        {
            throw new ArgumentException($"({MaxStreams}) must be at least 1", nameof(MaxStreams));
        }

        if (MaxStreamsPerSource < 1 || MaxStreamsPerSource > MaxStreams)
        {
            throw new ArgumentException($"({MaxStreamsPerSource}) must be from 1 to MaxStreams ({MaxStreams})", nameof(MaxStreamsPerSource));
        }

        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"({HandshakeTimeout}) must be positive", nameof(HandshakeTimeout));
        }

        if (IdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"({IdleTimeout}) must be positive", nameof(IdleTimeout));
        }

        if (UnauthenticatedFrameLimit < 4096)
        {
            throw new ArgumentException($"({UnauthenticatedFrameLimit}) must be at least 4096 bytes (a join request must fit)", nameof(UnauthenticatedFrameLimit));
        }
    }
}
