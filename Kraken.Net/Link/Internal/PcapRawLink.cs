// IRawLink over libpcap (SharpPcap): libpcap compiles the filter into the kernel's BPF. A dedicated thread
// reads the capture handle and hands frames over through a bounded queue of pooled buffers.
using System.Buffers;
using System.Net.NetworkInformation;
using System.Threading.Channels;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Kraken.Net.Link.Internal;

internal sealed class PcapRawLink : IBlockingRawLink
{
    private readonly LibPcapLiveDevice _device;
    private readonly byte[] _mac;
    private readonly Channel<(byte[] Buffer, int Length)> _frames;
    private readonly Thread _reader;
    private readonly object _sendGate = new();
    private volatile bool _disposed;
    private int _mode;      // 0 unused, 1 async (reader thread), 2 blocking (caller's thread)
    private long _overflow;

    private PcapRawLink(string name, LibPcapLiveDevice device, PhysicalAddress mac, int mtu)
    {
        Name = name;
        _device = device;
        HardwareAddress = mac;
        _mac = mac.GetAddressBytes();
        Mtu = mtu;
        _frames = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(8192)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = $"pcap {name}" };
    }

    public string Name { get; }

    public PhysicalAddress HardwareAddress { get; }

    public int Mtu { get; }

    /// <summary>Frames dropped because nobody read them fast enough.</summary>
    public long Overflow => Interlocked.Read(ref _overflow);

    public static PcapRawLink Open(string name, RawLinkFilter filter)
    {
        var (_, mac, mtu) = LinuxInterface.Describe(name);

        // A fresh list: the cached one describes the namespace of whichever thread first asked.
        var device = LibPcapLiveDeviceList.New().FirstOrDefault(d => d.Name == name)
            ?? throw new IOException($"libpcap does not see interface {name}");
        device.Open(new DeviceConfiguration
        {
            Mode = filter.Multicast is null ? DeviceModes.None : DeviceModes.Promiscuous, // libpcap cannot join one group
            ReadTimeout = 100,
            Immediate = true,
            BufferSize = 4 << 20,
            Snaplen = 65535,
        });
        try
        {
            if (!filter.IsEmpty)
            {
                device.Filter = filter.ToPcapExpression();
            }

            return new PcapRawLink(name, device, mac, mtu);
        }
        catch
        {
            device.Close();
            throw;
        }
    }

    private void ReadLoop()
    {
        while (!_disposed)
        {
            GetPacketStatus status;
            PacketCapture capture;
            try
            {
                status = _device.GetNextPacket(out capture);
            }
            catch (Exception) when (_disposed)
            {
                break;
            }

            if (status != GetPacketStatus.PacketRead)
            {
                if (status == GetPacketStatus.Error)
                {
                    _frames.Writer.TryComplete(new IOException($"pcap read on {Name} failed"));
                    return;
                }

                continue;
            }

            var data = capture.Data;
            if (data.Length >= 12 && data.Slice(6, 6).SequenceEqual(_mac))
            {
                continue;   // a frame we sent ourselves
            }

            var buffer = ArrayPool<byte>.Shared.Rent(data.Length);
            data.CopyTo(buffer);
            if (!_frames.Writer.TryWrite((buffer, data.Length)))
            {
                ArrayPool<byte>.Shared.Return(buffer);
                Interlocked.Increment(ref _overflow);
            }
        }

        _frames.Writer.TryComplete();
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_sendGate)
        {
            _device.SendPacket(frame.Span);
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _mode, 1, 0) == 0)
        {
            _reader.Start();
        }
        else if (_mode != 1)
        {
            throw new InvalidOperationException("this link is read with blocking Receive");
        }

        var (frame, length) = await _frames.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var copied = Math.Min(length, buffer.Length);
        frame.AsSpan(0, copied).CopyTo(buffer.Span);
        ArrayPool<byte>.Shared.Return(frame);
        return copied;
    }

    public int Receive(Span<byte> buffer, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _mode, 2, 0) is not (0 or 2))
        {
            throw new InvalidOperationException("this link is read with ReceiveAsync");
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(_disposed, this);
            var status = _device.GetNextPacket(out var capture);
            if (status == GetPacketStatus.Error)
            {
                throw new IOException($"pcap read on {Name} failed");
            }

            if (status != GetPacketStatus.PacketRead)
            {
                continue;   // the read timeout
            }

            var data = capture.Data;
            if (data.Length >= 12 && data.Slice(6, 6).SequenceEqual(_mac))
            {
                continue;
            }

            var length = Math.Min(data.Length, buffer.Length);
            data[..length].CopyTo(buffer);
            return length;
        }
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_sendGate)
        {
            _device.SendPacket(frame);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_reader.IsAlive)
        {
            await Task.Run(() => _reader.Join(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        }
        _device.Close();
        while (_frames.Reader.TryRead(out var item))
        {
            ArrayPool<byte>.Shared.Return(item.Buffer);
        }
    }

    public override string ToString() => $"{Name} (pcap, {HardwareAddress})";
}
