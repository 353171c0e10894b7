// IRawLink over libpcap (SharpPcap): libpcap compiles the filter into the kernel's BPF. A dedicated thread
// reads the capture handle and hands frames over through a bounded queue of pooled buffers. The handle is closed
// only once no call is inside libpcap: pcap_close under a reader is a use-after-free that kills the process.
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
    private int _closing;   // 1 once DisposeAsync began: no new call may enter libpcap
    private int _inPcap;    // calls inside libpcap (or reading its buffer) right now
    private long _kernelDrops;
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
            if (!TryEnter())
            {
                break;
            }

            byte[] buffer;
            int length;
            try
            {
                // capture.Data points into libpcap's ring: copied before the handle may close.
                var status = _device.GetNextPacket(out var capture);
                if (status == GetPacketStatus.Error)
                {
                    _frames.Writer.TryComplete(new IOException($"pcap read on {Name} failed"));
                    return;
                }

                var data = capture.Data;
                if (status != GetPacketStatus.PacketRead || (data.Length >= 12 && data.Slice(6, 6).SequenceEqual(_mac)))
                {
                    continue;   // the read timeout, or a frame we sent ourselves
                }

                length = data.Length;
                buffer = ArrayPool<byte>.Shared.Rent(length);
                data.CopyTo(buffer);
            }
            catch (Exception) when (_disposed)
            {
                break;
            }
            finally
            {
                Exit();
            }

            if (!_frames.Writer.TryWrite((buffer, length)))
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
        Send(frame.Span);
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
            ObjectDisposedException.ThrowIf(!TryEnter(), this);
            try
            {
                var status = _device.GetNextPacket(out var capture);
                if (status == GetPacketStatus.Error)
                {
                    throw new IOException($"pcap read on {Name} failed");
                }

                var data = capture.Data;
                if (status != GetPacketStatus.PacketRead || (data.Length >= 12 && data.Slice(6, 6).SequenceEqual(_mac)))
                {
                    continue;   // the read timeout, or a frame we sent ourselves
                }

                var length = Math.Min(data.Length, buffer.Length);
                data[..length].CopyTo(buffer);
                return length;
            }
            finally
            {
                Exit();
            }
        }
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        ObjectDisposedException.ThrowIf(!TryEnter(), this);
        try
        {
            lock (_sendGate)
            {
                _device.SendPacket(frame);
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Frames the kernel dropped before libpcap read them (its ring full, <c>pcap_stats</c> ps_drop) plus frames
    /// this link dropped because nobody took them from its queue.
    /// </summary>
    public long ReceiveDrops
    {
        get
        {
            if (TryEnter())
            {
                try
                {
                    if (PcapStats.TryRead(_device.Handle, out var dropped))
                    {
                        Interlocked.Exchange(ref _kernelDrops, dropped);
                    }
                }
                finally
                {
                    Exit();
                }
            }

            return Interlocked.Read(ref _kernelDrops) + Overflow;
        }
    }

    /// <summary>Counts a call into libpcap; false once the link is closing. Both sides fence (Dekker).</summary>
    private bool TryEnter()
    {
        Interlocked.Increment(ref _inPcap);
        if (Volatile.Read(ref _closing) == 0)
        {
            return true;
        }

        Interlocked.Decrement(ref _inPcap);
        return false;
    }

    private void Exit() => Interlocked.Decrement(ref _inPcap);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Interlocked.Exchange(ref _closing, 1);

        // Every call notices within the read timeout (100 ms); one that never returns keeps the handle open
        // (closed with the process) rather than have it freed under it.
        var deadline = Environment.TickCount64 + 2000;
        while (Volatile.Read(ref _inPcap) != 0 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }

        if (Volatile.Read(ref _inPcap) == 0)
        {
            _device.Close();
        }

        while (_frames.Reader.TryRead(out var item))
        {
            ArrayPool<byte>.Shared.Return(item.Buffer);
        }
    }

    public override string ToString() => $"{Name} (pcap, {HardwareAddress})";
}
