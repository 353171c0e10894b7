// IRawLink over a Linux AF_PACKET socket with a classic BPF filter; needs no libpcap.
using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;

using Kraken.Net.Packets;

namespace Kraken.Net.Link.Internal;

internal sealed class AfPacketRawLink : IBlockingRawLink
{
    private const int SolSocket = 1;
    private const int SoAttachFilter = 26;
    private const int SolPacket = 263;
    private const int PacketAddMembership = 1;
    private const ushort PacketMrMulticast = 0;
    private const int PacketIgnoreOutgoing = 23;
    private const ushort EthPAll = 0x0003;

    private readonly Socket _socket;
    private readonly byte[] _mac;

    private AfPacketRawLink(string name, Socket socket, PhysicalAddress mac, int mtu)
    {
        Name = name;
        _socket = socket;
        HardwareAddress = mac;
        _mac = mac.GetAddressBytes();
        Mtu = mtu;
    }

    public string Name { get; }

    public PhysicalAddress HardwareAddress { get; }

    public int Mtu { get; }

    public static AfPacketRawLink Open(string name, RawLinkFilter filter)
    {
        var (index, mac, mtu) = LinuxInterface.Describe(name);

        // Protocol 0 receives nothing until bind, so no unfiltered frame is queued before the filter is on.
        var socket = new Socket(AddressFamily.Packet, SocketType.Raw, (System.Net.Sockets.ProtocolType)0);
        try
        {
            AttachFilter(socket, BpfProgram.Compile(filter));
            Span<byte> one = stackalloc byte[sizeof(int)];
            BinaryPrimitives.WriteInt32LittleEndian(one, 1);
            try
            {
                socket.SetRawSocketOption(SolPacket, PacketIgnoreOutgoing, one);
            }
            catch (SocketException)
            {
                // Kernels before 4.20: our own frames are dropped by source address in ReceiveAsync instead.
            }

            if (filter.Multicast is { } group)
            {
                JoinMulticast(socket, index, group);
            }

            socket.ReceiveBufferSize = 4 << 20;
            socket.ReceiveTimeout = 250;    // only the blocking Receive sees it
            socket.SendBufferSize = 1 << 20;
            socket.Bind(new LinkLayerEndPoint(index, EthPAll));
            return new AfPacketRawLink(name, socket, mac, mtu);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <c>PACKET_ADD_MEMBERSHIP</c> with <c>struct packet_mreq { int mr_ifindex; unsigned short mr_type, mr_alen;
    /// unsigned char mr_address[8]; }</c>: the kernel programs the NIC's multicast filter, and drops the membership
    /// with the socket.
    /// </summary>
    private static void JoinMulticast(Socket socket, int index, MacAddress group)
    {
        Span<byte> mreq = stackalloc byte[16];
        mreq.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(mreq, index);
        BinaryPrimitives.WriteUInt16LittleEndian(mreq[4..], PacketMrMulticast);
        BinaryPrimitives.WriteUInt16LittleEndian(mreq[6..], 6);
        group.Write(mreq[8..]);
        socket.SetRawSocketOption(SolPacket, PacketAddMembership, mreq);
    }

    private static unsafe void AttachFilter(Socket socket, BpfInstruction[] program)
    {
        fixed (BpfInstruction* instructions = program)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: the kernel copies the program.
            Span<byte> fprog = stackalloc byte[16];
            fprog.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(fprog, (ushort)program.Length);
            BinaryPrimitives.WriteInt64LittleEndian(fprog[8..], (long)instructions);
            socket.SetRawSocketOption(SolSocket, SoAttachFilter, fprog);
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken = default)
    {
        await _socket.SendAsync(frame, SocketFlags.None, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (length >= 12 && buffer.Span.Slice(6, 6).SequenceEqual(_mac))
            {
                continue;
            }

            return length;
        }
    }

    public int Receive(Span<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int length;
            try
            {
                length = _socket.Receive(buffer, SocketFlags.None);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
            {
                continue;   // the receive timeout: a chance to notice cancellation
            }

            if (length >= 12 && buffer.Slice(6, 6).SequenceEqual(_mac))
            {
                continue;
            }

            return length;
        }
    }

    public void Send(ReadOnlySpan<byte> frame) => _socket.Send(frame, SocketFlags.None);

    public long ReceiveDrops => Transport.SocketDrops.Read(_socket) ?? 0;

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    public override string ToString() => $"{Name} (AF_PACKET, {HardwareAddress})";

    /// <summary>A <c>struct sockaddr_ll</c> for bind.</summary>
    private sealed class LinkLayerEndPoint(int ifIndex, ushort protocol) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize()
        {
            var address = new SocketAddress(AddressFamily.Packet, 20);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt16BigEndian(bytes, protocol);
            address[2] = bytes[0];
            address[3] = bytes[1];
            MemoryMarshal.Write(bytes, in ifIndex);
            for (var i = 0; i < 4; i++)
            {
                address[4 + i] = bytes[i];
            }

            return address;
        }

        public override EndPoint Create(SocketAddress socketAddress) => this;
    }
}
