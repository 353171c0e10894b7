// Request/reply over a netlink channel: sequence numbers, acks (NLMSG_ERROR with errno 0 or -errno and the kernel's
// extended-ack text), dumps that span several datagrams up to NLMSG_DONE, and a timeout per request.
using System.Runtime.InteropServices;

namespace Kraken.Net.Link.Internal.Netlink;

/// <summary>Receives each data message of a dump, on the thread that reads the reply.</summary>
internal delegate void NetlinkMessageHandler(ushort type, ReadOnlySpan<byte> payload);

/// <summary>Writes one request into the buffer and returns its length.</summary>
internal delegate int NetlinkRequestWriter(Span<byte> buffer);

/// <summary>How an exchange ended: <see cref="Errno"/> 0 is success.</summary>
internal readonly record struct NetlinkReply(int Errno, string? KernelMessage, bool Interrupted);

internal sealed class NetlinkClient : IDisposable
{
    /// <summary>A datagram larger than this is refused rather than buffered (a dump part is at most 32 KiB).</summary>
    public const int MaxDatagram = 1 << 20;

    private readonly INetlinkChannel _channel;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly byte[] _request = new byte[RouteCodec.MaxRequestLength];
    private byte[] _receive = new byte[32 * 1024];
    private uint _sequence;

    public NetlinkClient(INetlinkChannel channel, TimeProvider time, TimeSpan timeout)
    {
        _channel = channel;
        _time = time;
        Timeout = timeout;
    }

    public TimeSpan Timeout { get; }

    /// <summary>Sends a request that asks for an ack and returns the kernel's answer; errors are returned, not thrown.</summary>
    public Task<NetlinkReply> RequestAsync(NetlinkRequestWriter write, string operation, string? interfaceName, CancellationToken cancellationToken) =>
        ExchangeAsync(write, null, operation, interfaceName, cancellationToken);

    /// <summary>Sends a dump request and hands every data message of the reply to <paramref name="handler"/>.</summary>
    public Task<NetlinkReply> DumpAsync(NetlinkRequestWriter write, NetlinkMessageHandler handler, string operation, CancellationToken cancellationToken) =>
        ExchangeAsync(write, handler, operation, null, cancellationToken);

    private async Task<NetlinkReply> ExchangeAsync(
        NetlinkRequestWriter write, NetlinkMessageHandler? handler, string operation, string? interfaceName, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var length = write(_request);
            var sequence = ++_sequence == 0 ? ++_sequence : _sequence;
            MemoryMarshal.Write(_request.AsSpan(8), in sequence);
            await _channel.SendAsync(_request.AsMemory(0, length), linked.Token).ConfigureAwait(false);

            var exchange = new NetlinkExchange(sequence, handler);
            while (!exchange.Finished)
            {
                var received = await _channel.ReceiveAsync(_receive, linked.Token).ConfigureAwait(false);
                if (received > _receive.Length)
                {
                    if (received > MaxDatagram)
                    {
                        NetlinkProtocolException.Throw($"a {received}-byte datagram, above the {MaxDatagram}-byte limit");
                    }

                    _receive = new byte[Math.Max(received, _receive.Length * 2)];
                    continue;
                }

                exchange.Process(_receive.AsSpan(0, received));
            }

            return exchange.Reply;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new NetworkConfigurationException(operation, interfaceName,
                $"{operation}{(interfaceName is null ? string.Empty : $" on {interfaceName}")}: no reply from the kernel within {Timeout.TotalSeconds:0.###} s");
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _channel.Dispose();
        _gate.Dispose();
    }
}

/// <summary>
/// The reply side of one exchange, fed datagram by datagram: messages of other sequence numbers (late replies
/// to a request that timed out) are skipped; NLMSG_ERROR or NLMSG_DONE ends it.
/// </summary>
internal sealed class NetlinkExchange(uint sequence, NetlinkMessageHandler? handler)
{
    private bool _interrupted;

    public bool Finished { get; private set; }

    public NetlinkReply Reply { get; private set; }

    public void Process(ReadOnlySpan<byte> datagram)
    {
        var reader = new NetlinkMessageReader(datagram);
        while (!Finished && reader.TryRead(out var message))
        {
            if (message.Sequence != sequence)
            {
                continue;
            }

            switch (message.Type)
            {
                case Rtnl.NlmsgNoop:
                    break;
                case Rtnl.NlmsgError:
                    Finish(message, "NLMSG_ERROR", Rtnl.ErrorLength);
                    break;
                case Rtnl.NlmsgDone:
                    if (handler is null)
                    {
                        NetlinkProtocolException.Throw("NLMSG_DONE in answer to a request that was not a dump");
                    }

                    Finish(message, "NLMSG_DONE", sizeof(int));
                    break;
                case Rtnl.NlmsgOverrun:
                    NetlinkProtocolException.Throw("NLMSG_OVERRUN: the kernel lost part of the reply");
                    break;
                default:
                    if (handler is not null)
                    {
                        _interrupted |= (message.Flags & Rtnl.NlmFDumpIntr) != 0;
                        handler(message.Type, message.Payload);
                    }

                    break;
            }
        }
    }

    /// <summary>Reads the s32 error (0 or -errno) and, when flagged, the extended-ack attributes after <paramref name="fixedLength"/>.</summary>
    private void Finish(in NetlinkMessage message, string what, int fixedLength)
    {
        var payload = message.Payload;
        var error = 0;
        if (payload.Length >= fixedLength)
        {
            error = MemoryMarshal.Read<int>(payload);
        }
        else if (!payload.IsEmpty || message.Type == Rtnl.NlmsgError)
        {
            // An NLMSG_ERROR always echoes the request's header; only an old kernel's NLMSG_DONE may come empty.
            NetlinkProtocolException.Throw($"{what} of {payload.Length} bytes, shorter than its {fixedLength}-byte body");
        }

        if (error > 0 || error == int.MinValue)
        {
            NetlinkProtocolException.Throw($"{what} with error code {error}, not 0 or a negative errno");
        }

        string? text = null;
        if ((message.Flags & Rtnl.NlmFAckTlvs) != 0)
        {
            var offset = fixedLength;
            if (message.Type == Rtnl.NlmsgError && (message.Flags & Rtnl.NlmFCapped) == 0 && payload.Length >= Rtnl.ErrorLength)
            {
                // Not capped: the whole request is echoed, as long as its own header says.
                offset = sizeof(int) + (int)Math.Min(MemoryMarshal.Read<uint>(payload[sizeof(int)..]), int.MaxValue - 8);
            }

            if (offset > payload.Length)
            {
                NetlinkProtocolException.Throw($"{what} of {payload.Length} bytes, shorter than its echoed request ({offset})");
            }

            var attributes = new NetlinkAttributeReader(payload[Rtnl.Align(offset) > payload.Length ? payload.Length.. : Rtnl.Align(offset)..]);
            while (attributes.TryRead(out var type, out var value))
            {
                if (type == Rtnl.NlmsgerrAttrMsg && !value.IsEmpty)
                {
                    var end = value.IndexOf((byte)0);
                    text = System.Text.Encoding.UTF8.GetString(end < 0 ? value : value[..end]);
                }
            }
        }

        Reply = new NetlinkReply(-error, text, _interrupted);
        Finished = true;
    }
}
