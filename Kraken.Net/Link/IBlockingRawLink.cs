// Blocking calls that real links also offer, for a server that gives a link its own thread: one system call per
// frame each way and no thread-pool hand-off, which is most of the CPU a frame costs at moderate rates.
namespace Kraken.Net.Link;

public interface IBlockingRawLink : IRawLink
{
    /// <summary>
    /// Blocks until a frame passed the filter and copies it into <paramref name="buffer"/>; returns its length.
    /// Notices cancellation within a fraction of a second (throws <see cref="OperationCanceledException"/>).
    /// Do not mix with <see cref="IRawLink.ReceiveAsync"/> on the same link.
    /// </summary>
    int Receive(Span<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sends one complete Ethernet frame (no FCS).</summary>
    void Send(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Frames that passed the filter but were dropped before anyone read them (the socket's receive buffer or the
    /// capture ring full), as the kernel counts them; a running total since the link opened.
    /// </summary>
    long ReceiveDrops { get; }
}
