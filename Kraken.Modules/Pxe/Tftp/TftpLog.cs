// Log events of the TFTP server, with stable ids.
using System.Net;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Pxe.Tftp;

internal static partial class TftpLog
{
    [LoggerMessage(1, LogLevel.Information, "TFTP server listening on {EndPoint}.")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(2, LogLevel.Debug, "TFTP {Client} read {Path}: blksize {BlockSize}, windowsize {WindowSize}.")]
    public static partial void TransferStarted(ILogger logger, IPEndPoint client, string path, int blockSize, int windowSize);

    [LoggerMessage(3, LogLevel.Debug, "TFTP {Client} read {Path}: {Bytes} bytes sent.")]
    public static partial void TransferCompleted(ILogger logger, IPEndPoint client, string path, long bytes);

    [LoggerMessage(4, LogLevel.Information, "TFTP {Client} read {Path} failed after {Bytes} bytes: {Error}")]
    public static partial void TransferFailed(ILogger logger, IPEndPoint client, string path, long bytes, string error);

    [LoggerMessage(5, LogLevel.Debug, "TFTP packet from {Client} dropped: {Reason}.")]
    public static partial void Dropped(ILogger logger, IPEndPoint client, TftpDropReason reason);

    [LoggerMessage(6, LogLevel.Warning, "TFTP file source failed to open {Path} for {Client}.")]
    public static partial void SourceFailed(ILogger logger, Exception exception, string path, IPEndPoint client);

    [LoggerMessage(7, LogLevel.Warning, "TFTP receive on {EndPoint} failed; continuing.")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception, IPEndPoint endPoint);

    [LoggerMessage(8, LogLevel.Debug, "TFTP {Client}: the kernel refused a segmented send ({Error}); one send per block for this transfer.")]
    public static partial void SegmentationRefused(ILogger logger, IPEndPoint client, System.Net.Sockets.SocketError error);
}
