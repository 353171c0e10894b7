// What the TFTP server serves: a file source maps a requested path to content, or to "not found".
using System.Net;

namespace Kraken.Modules.Pxe.Tftp;

/// <summary>Content to send: the server reads <paramref name="Content"/> to its end and disposes it.</summary>
/// <param name="Content">The bytes to send, read sequentially.</param>
/// <param name="Length">Its length when known; answered to the <c>tsize</c> option.</param>
public sealed record TftpFile(Stream Content, long? Length);

/// <summary>Resolves read requests to content.</summary>
public interface ITftpFileSource
{
    /// <summary>
    /// Opens <paramref name="path"/> (as the client sent it) for <paramref name="client"/>. Returns null for
    /// "file not found"; throws <see cref="TftpAccessException"/> to answer "access violation".
    /// </summary>
    ValueTask<TftpFile?> OpenAsync(string path, IPEndPoint client, CancellationToken cancellationToken);
}

/// <summary>Thrown by a file source to refuse a request with TFTP error 2 (access violation).</summary>
public sealed class TftpAccessException : Exception
{
    public TftpAccessException()
    {
    }

    public TftpAccessException(string message)
        : base(message)
    {
    }

    public TftpAccessException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The outcome of one read request, raised by <see cref="TftpServer.TransferFinished"/>.</summary>
/// <param name="Client">The client's address and transfer id (port).</param>
/// <param name="Path">The path as requested.</param>
/// <param name="Bytes">File bytes acknowledged by the client.</param>
/// <param name="Completed">True when the client acknowledged the last block.</param>
/// <param name="Error">Why the transfer ended early, or null.</param>
public sealed record TftpTransfer(IPEndPoint Client, string Path, long Bytes, bool Completed, string? Error);
