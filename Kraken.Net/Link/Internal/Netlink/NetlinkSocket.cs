// The NETLINK_ROUTE socket: a plain .NET Socket over a descriptor from socket(2), since .NET has no AddressFamily
// for netlink. The socket belongs to the network namespace of the thread that opened it, for its whole life.
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Kraken.Net.Link.Internal.Netlink;

/// <summary>Datagrams to and from the kernel's rtnetlink; the seam the request logic is tested through.</summary>
internal interface INetlinkChannel : IDisposable
{
    ValueTask SendAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken);

    /// <summary>
    /// Waits for the next datagram and returns its full length. When that exceeds <paramref name="buffer"/> the
    /// datagram stays queued, so the caller can retry with a larger buffer instead of losing its tail.
    /// </summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}

internal sealed partial class NetlinkSocket : INetlinkChannel
{
    private readonly Socket _socket;

    private NetlinkSocket(Socket socket)
    {
        _socket = socket;
    }

    /// <summary>Opens a NETLINK_ROUTE socket in the calling thread's network namespace. No bind: the kernel picks the port on the first send.</summary>
    public static NetlinkSocket Open()
    {
        var fd = OpenSocket(Rtnl.AfNetlink, Rtnl.SockRaw | Rtnl.SockCloexec, Rtnl.NetlinkRoute);
        if (fd < 0)
        {
            throw new NetlinkException("open a NETLINK_ROUTE socket", null, Marshal.GetLastPInvokeError(), null);
        }

        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        try
        {
            Span<byte> one = stackalloc byte[sizeof(int)];
            MemoryMarshal.Write(one, 1);
            TrySet(socket, Rtnl.NetlinkExtAck, one);
            TrySet(socket, Rtnl.NetlinkCapAck, one);
            return new NetlinkSocket(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken) =>
        await _socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // MSG_PEEK | MSG_TRUNC returns the datagram's real length and leaves it queued.
        var length = await _socket.ReceiveAsync(buffer, SocketFlags.Peek | SocketFlags.Truncated, cancellationToken).ConfigureAwait(false);
        if (length > buffer.Length)
        {
            return length;
        }

        return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _socket.Dispose();

    private static void TrySet(Socket socket, int option, ReadOnlySpan<byte> value)
    {
        try
        {
            socket.SetRawSocketOption(Rtnl.SolNetlink, option, value);
        }
        catch (SocketException)
        {
            // Kernels before 4.12 lack extended acks: errors then come without the kernel's text.
        }
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int OpenSocket(int domain, int type, int protocol);
}
