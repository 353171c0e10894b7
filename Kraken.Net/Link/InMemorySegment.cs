// A broadcast Ethernet segment in memory: every attached link sees the group-addressed frames of the others
// and the unicast frames sent to its own address, as on a switch that has learned every port.
using System.Buffers;
using System.Net.NetworkInformation;
using System.Threading.Channels;

namespace Kraken.Net.Link;

public sealed class InMemorySegment
{
    private readonly object _gate = new();
    private readonly int _queueCapacity;
    private Port[] _ports = [];
    private long _dropped;

    /// <param name="queueCapacity">Frames queued per link before further frames to it are dropped.</param>
    public InMemorySegment(int queueCapacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        _queueCapacity = queueCapacity;
    }

    /// <summary>Frames dropped because a receiver's queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Frames that crossed the segment (one per delivery).</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    private long _delivered;

    public IRawLink Attach(string name, PhysicalAddress mac, RawLinkFilter? filter = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(mac);
        if (mac.GetAddressBytes().Length != 6)
        {
            throw new ArgumentException("an Ethernet address has 6 bytes", nameof(mac));
        }

        var port = new Port(this, name, mac, filter ?? RawLinkFilter.All, _queueCapacity);
        lock (_gate)
        {
            _ports = [.. _ports, port];
        }

        return port;
    }

    private void Detach(Port port)
    {
        lock (_gate)
        {
            _ports = Array.FindAll(_ports, p => p != port);
        }
    }

    private void Deliver(Port sender, ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14)
        {
            return;
        }

        var destination = frame[..6];
        var group = (destination[0] & 1) != 0;
        foreach (var port in Volatile.Read(ref _ports))
        {
            if (port == sender || (!group && !destination.SequenceEqual(port.MacBytes)) || !port.Filter.Matches(frame))
            {
                continue;
            }

            var copy = ArrayPool<byte>.Shared.Rent(frame.Length);
            frame.CopyTo(copy);
            if (port.Queue.Writer.TryWrite(new Frame(copy, frame.Length)))
            {
                Interlocked.Increment(ref _delivered);
            }
            else
            {
                ArrayPool<byte>.Shared.Return(copy);
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    private readonly record struct Frame(byte[] Buffer, int Length);

    private sealed class Port : IRawLink
    {
        private readonly InMemorySegment _segment;

        public Port(InMemorySegment segment, string name, PhysicalAddress mac, RawLinkFilter filter, int capacity)
        {
            _segment = segment;
            Name = name;
            HardwareAddress = mac;
            MacBytes = mac.GetAddressBytes();
            Filter = filter;
            Queue = Channel.CreateBounded<Frame>(new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = false,
                SingleWriter = false,
            });
        }

        public string Name { get; }

        public PhysicalAddress HardwareAddress { get; }

        public byte[] MacBytes { get; }

        public RawLinkFilter Filter { get; }

        public Channel<Frame> Queue { get; }

        public int Mtu => 1500;

        public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(Queue.Reader.Completion.IsCompleted, this);
            if (frame.Length > Mtu + 14)
            {
                throw new ArgumentException($"frame of {frame.Length} bytes exceeds the MTU {Mtu}", nameof(frame));
            }

            _segment.Deliver(this, frame.Span);
            return ValueTask.CompletedTask;
        }

        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var frame = await Queue.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var length = Math.Min(frame.Length, buffer.Length);
            frame.Buffer.AsSpan(0, length).CopyTo(buffer.Span);
            ArrayPool<byte>.Shared.Return(frame.Buffer);
            return length;
        }

        public ValueTask DisposeAsync()
        {
            _segment.Detach(this);
            Queue.Writer.TryComplete();
            while (Queue.Reader.TryRead(out var frame))
            {
                ArrayPool<byte>.Shared.Return(frame.Buffer);
            }

            return ValueTask.CompletedTask;
        }

        public override string ToString() => $"{Name} ({HardwareAddress})";
    }
}
