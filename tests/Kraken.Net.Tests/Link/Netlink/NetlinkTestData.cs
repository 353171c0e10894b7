// Test helpers for netlink: the recorded kernel replies, synthetic messages, and a scripted channel that answers
// requests with datagrams instead of a kernel.
using System.Buffers.Binary;
using System.Threading.Channels;
using Kraken.Net.Link.Internal.Netlink;
using Kraken.Net.Packets;

namespace Kraken.Net.Tests.Link.Netlink;

internal static class NetlinkTestData
{
    private static readonly Lazy<Dictionary<string, List<byte[]>>> s_recorded = new(Load);

    /// <summary>The recorded datagrams of one exchange (links, addresses, routes, addexisting, mtutoobig, mtuok), in order.</summary>
    public static IReadOnlyList<byte[]> Recorded(string name) => s_recorded.Value[name];

    public static IEnumerable<string> RecordedNames => s_recorded.Value.Keys;

    /// <summary>The sequence number each recorded exchange used.</summary>
    public static uint RecordedSequence(string name) => BinaryPrimitives.ReadUInt32LittleEndian(Recorded(name)[0].AsSpan(8));

    /// <summary>Offsets at which each message of a datagram starts, and the datagram's length.</summary>
    public static List<(int Start, int Length)> Messages(byte[] datagram)
    {
        var messages = new List<(int, int)>();
        for (var offset = 0; offset < datagram.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(datagram.AsSpan(offset));
            messages.Add((offset, length));
            offset += (length + 3) & ~3;
        }

        return messages;
    }

    /// <summary>A copy of <paramref name="datagram"/> with every message's sequence number set to <paramref name="sequence"/>.</summary>
    public static byte[] Stamp(byte[] datagram, uint sequence)
    {
        var copy = (byte[])datagram.Clone();
        foreach (var (start, _) in Messages(copy))
        {
            BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(start + 8), sequence);
        }

        return copy;
    }

    /// <summary>An RTM_NEWLINK message as a dump part.</summary>
    public static byte[] Link(int index, string name, MacAddress mac, int mtu, uint flags = 0, ushort headerFlags = Rtnl.NlmFMulti)
    {
        var buffer = new byte[256];
        var writer = new NetlinkWriter(buffer, Rtnl.RtmNewLink, headerFlags);
        var body = writer.Body(Rtnl.IfInfoLength);
        BinaryPrimitives.WriteInt32LittleEndian(body[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(body[8..], flags);
        writer.Attribute(Rtnl.IflaIfname, System.Text.Encoding.ASCII.GetBytes(name + "\0"));
        Span<byte> bytes = stackalloc byte[6];
        mac.Write(bytes);
        writer.Attribute(Rtnl.IflaAddress, bytes);
        writer.AttributeU32(Rtnl.IflaMtu, (uint)mtu);
        return buffer[..writer.Finish()];
    }

    /// <summary>A control message: NLMSG_DONE or NLMSG_ERROR with <paramref name="error"/> (0 or -errno).</summary>
    public static byte[] Control(ushort type, int error, ushort flags = 0, string? kernelText = null)
    {
        var buffer = new byte[256];
        var writer = new NetlinkWriter(buffer, type, (ushort)(flags | (kernelText is null ? 0 : Rtnl.NlmFAckTlvs) | (type == Rtnl.NlmsgError ? Rtnl.NlmFCapped : 0)));
        var body = writer.Body(type == Rtnl.NlmsgError ? Rtnl.ErrorLength : sizeof(int));
        BinaryPrimitives.WriteInt32LittleEndian(body, error);
        if (type == Rtnl.NlmsgError)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(body[4..], Rtnl.HeaderLength);
        }

        if (kernelText is not null)
        {
            writer.Attribute(Rtnl.NlmsgerrAttrMsg, System.Text.Encoding.ASCII.GetBytes(kernelText + "\0"));
        }

        return buffer[..writer.Finish()];
    }

    /// <summary>Packs messages into datagrams of at most <paramref name="maxDatagram"/> bytes, each message 4-byte aligned.</summary>
    public static List<byte[]> Pack(IEnumerable<byte[]> messages, int maxDatagram)
    {
        var datagrams = new List<byte[]>();
        var current = new List<byte>();
        foreach (var message in messages)
        {
            var padded = (message.Length + 3) & ~3;
            if (current.Count > 0 && current.Count + padded > maxDatagram)
            {
                datagrams.Add([.. current]);
                current.Clear();
            }

            current.AddRange(message);
            current.AddRange(new byte[padded - message.Length]);
        }

        if (current.Count > 0)
        {
            datagrams.Add([.. current]);
        }

        return datagrams;
    }

    private static Dictionary<string, List<byte[]>> Load()
    {
        using var stream = typeof(NetlinkTestData).Assembly.GetManifestResourceStream("rtnetlink-6.18.txt")
            ?? throw new InvalidOperationException("the recorded rtnetlink replies are not embedded");
        using var reader = new StreamReader(stream);
        var recorded = new Dictionary<string, List<byte[]>>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var name = line[..line.IndexOf('.', StringComparison.Ordinal)];
            if (!recorded.TryGetValue(name, out var list))
            {
                recorded[name] = list = [];
            }

            list.Add(Convert.FromHexString(line[(space + 1)..]));
        }

        return recorded;
    }
}

/// <summary>
/// A netlink channel answered by a function of the request: each sent request yields the datagrams to receive,
/// with the request's sequence number stamped on every message unless the script already chose one.
/// </summary>
internal sealed class ScriptedChannel(Func<byte[], int, IEnumerable<byte[]>> script, bool stampSequence = true) : INetlinkChannel
{
    private readonly Channel<byte[]> _pending = Channel.CreateUnbounded<byte[]>();

    public List<byte[]> Requests { get; } = [];

    /// <summary>The buffer sizes receives were offered, in order.</summary>
    public List<int> BufferSizes { get; } = [];

    public bool Disposed { get; private set; }

    public ValueTask SendAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        var bytes = request.ToArray();
        Requests.Add(bytes);
        var sequence = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        foreach (var datagram in script(bytes, Requests.Count - 1))
        {
            _pending.Writer.TryWrite(stampSequence ? NetlinkTestData.Stamp(datagram, sequence) : datagram);
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        BufferSizes.Add(buffer.Length);
        while (true)
        {
            await _pending.Reader.WaitToReadAsync(cancellationToken);
            if (_pending.Reader.TryPeek(out var datagram))
            {
                if (datagram.Length > buffer.Length)
                {
                    return datagram.Length;     // left queued, as MSG_PEEK | MSG_TRUNC leaves it
                }

                _pending.Reader.TryRead(out _);
                datagram.CopyTo(buffer);
                return datagram.Length;
            }
        }
    }

    public void Dispose() => Disposed = true;
}
