// The one exception type a sync parser throws; caught at the connection or datagram edge.
using System.Diagnostics.CodeAnalysis;

namespace Kraken.Net.Sync;

/// <summary>A frame broke the protocol. <see cref="Reason"/> says how it is counted.</summary>
public sealed class SyncProtocolException : Exception
{
    public SyncProtocolException(DropReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    public SyncProtocolException()
    {
    }

    public SyncProtocolException(string message)
        : base(message)
    {
    }

    public SyncProtocolException(string message, Exception inner)
        : base(message, inner)
    {
        Reason = DropReason.Malformed;
    }

    public DropReason Reason { get; } = DropReason.Malformed;

    [DoesNotReturn]
    internal static void Throw(DropReason reason, string message) => throw new SyncProtocolException(reason, message);
}
