// The seam between the sync protocol and the networks it runs on: sockets or the in-memory network.
using System.Net;

namespace Kraken.Net.Transport;

/// <summary>
/// Datagrams (hellos, small deltas) and framed streams (join, bulk exchange, large deltas) to and from
/// endpoints. Sockets and the in-memory network implement it; the protocol code cannot tell them apart.
/// Callbacks on <see cref="ISyncTransportHandler"/> may come from any thread: a handler copies what it needs
/// and posts the work to its own executor.
/// </summary>
public interface ISyncTransport : IAsyncDisposable
{
    /// <summary>Where peers reach this transport (streams and datagrams share it).</summary>
    EndPoint LocalEndPoint { get; }

    /// <summary>The largest datagram worth sending; bigger frames go over a stream.</summary>
    int MaxDatagramSize { get; }

    /// <summary>The port to advertise for datagrams in a join request.</summary>
    int DatagramPort { get; }

    /// <summary>Starts receiving datagrams and accepting streams.</summary>
    void Start(ISyncTransportHandler handler);

    /// <summary>Sends one datagram (copied before return); silently lost if the network loses it.</summary>
    void SendDatagram(EndPoint remote, ReadOnlySpan<byte> datagram);

    /// <summary>
    /// Opens a framed stream. The connection is returned at once; the handler hears
    /// <see cref="ISyncTransportHandler.OnConnected"/> when it is up, or <see cref="ISyncTransportHandler.OnClosed"/>
    /// if it could not be opened.
    /// </summary>
    IFrameConnection Connect(EndPoint remote, object? tag);

    /// <summary>The datagram endpoint of the peer of <paramref name="connection"/> that advertised <paramref name="port"/>.</summary>
    EndPoint DatagramEndPointOf(IFrameConnection connection, int port);
}

/// <summary>A framed, reliable, ordered stream.</summary>
public interface IFrameConnection
{
    EndPoint RemoteEndPoint { get; }

    /// <summary>The owner's bookkeeping object.</summary>
    object? Tag { get; set; }

    /// <summary>True for a connection this side opened.</summary>
    bool IsOutbound { get; }

    /// <summary>Queues one whole frame (copied before return); false when the connection is closed.</summary>
    bool Send(ReadOnlySpan<byte> frame);

    /// <summary>Closes the connection; the peer hears <see cref="ISyncTransportHandler.OnClosed"/>.</summary>
    void Close();
}

/// <summary>Receives what a transport delivers. Implementations must not block.</summary>
public interface ISyncTransportHandler
{
    /// <summary>One datagram; the span is valid only during the call.</summary>
    void OnDatagram(ReadOnlySpan<byte> datagram);

    /// <summary>A connection is up (accepted, or one this side opened).</summary>
    void OnConnected(IFrameConnection connection);

    /// <summary>One whole frame from a stream; the span is valid only during the call.</summary>
    void OnFrame(IFrameConnection connection, ReadOnlySpan<byte> frame);

    /// <summary>The connection closed or could not be opened; <paramref name="error"/> says why, if known.</summary>
    void OnClosed(IFrameConnection connection, Exception? error);

    /// <summary>
    /// Whether an inbound stream from <paramref name="remote"/> may deliver a frame larger than the transport's
    /// unauthenticated limit, its header naming <paramref name="sender"/>: true only for a neighbour whose
    /// adjacency is up at that address (a bulk frame). Called from the transport's threads, before the frame's
    /// body is read; the frame's MAC is still checked when it arrives. The default admits none.
    /// </summary>
    bool AdmitsLargeFrame(EndPoint remote, UInt128 sender) => false;

    /// <summary>A fault the transport cannot answer itself (say, no file descriptors left to accept with), at most once a minute per kind.</summary>
    void OnTransportFault(string message)
    {
    }
}
