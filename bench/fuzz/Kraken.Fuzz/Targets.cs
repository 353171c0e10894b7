// The fuzz targets: each feeds one input to one parser the way the daemon does, and lets escape only what that
// parser must never throw (its documented errors are caught here, as its caller catches them).
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using Google.Protobuf;
using Kraken.Daemon.Boot;
using Kraken.Daemon.Hosting;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Modules.Power.Redfish;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Modules.Pxe.Http;
using Kraken.Modules.Pxe.Ipv6;
using Kraken.Modules.Pxe.Tftp.Internal;
using Kraken.Net.Packets;
using Kraken.Net.Sync;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using SharpFuzz;

namespace Kraken.Fuzz;

/// <summary>The targets by name, each with the largest input libFuzzer is asked to generate for it.</summary>
public static class Targets
{
    /// <summary>Largest input libFuzzer is asked to generate per target (the wire limits, or a few KiB of text).</summary>
    public static IReadOnlyDictionary<string, (ReadOnlySpanAction Run, int MaxLength)> All { get; } =
        new Dictionary<string, (ReadOnlySpanAction, int)>(StringComparer.Ordinal)
        {
            ["dhcp"] = (Dhcp, 1500),
            ["tftp"] = (Tftp, 1024),
            ["udp"] = (Udp, 1600),
            ["icmpv6-rs"] = (RouterSolicitation, 1600),
            ["sync-frame"] = (SyncFrame, 8192),
            ["sync-compact"] = (SyncCompact, 64),
            ["sync-stream"] = (SyncStream, 8192),
            ["ipmi"] = (Ipmi, 1200),
            ["redfish"] = (Redfish, 8192),
            ["statefile"] = (StateFile, 16384),
            ["http-range"] = (HttpRange, 512),
            ["kernel-args"] = (KernelArgs, 4096),
        };

    /// <summary>Frame MAC key of the sync targets: they re-sign each input so the fuzzer gets past the MAC.</summary>
    private static readonly byte[] s_syncKey = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static readonly FrameMac s_syncMac = new(s_syncKey);

    private static readonly IpmiSessionKeys s_ipmiKeys =
        new(IpmiCipherSuite.Suite17, Enumerable.Repeat((byte)0x11, 32).ToArray(), Enumerable.Repeat((byte)0x22, 16).ToArray());

    /// <summary>DHCP (both ops), as the server reads every datagram on port 67, then what the server asks of a request.</summary>
    public static void Dhcp(ReadOnlySpan<byte> data)
    {
        if (!DhcpCodec.TryParse(data, out var m, out _))
        {
            return;
        }

        _ = m.IsIpxe(data);
        _ = m.Arch;
        _ = m.VendorClassStartsWith(data, "PXEClient"u8);
        _ = m.UserClassContains(data, "iPXE"u8);
        foreach (var slice in new[] { m.ServerName, m.BootFile, m.VendorClass, m.UserClass, m.ClientUuid, m.ClientId, m.HostName, m.ParameterRequestList, m.IpxeOptions, m.RelayAgentInformation })
        {
            _ = slice.Of(data).Length;
        }
    }

    /// <summary>A TFTP packet on the server's port: opcode, then a read or write request with its options.</summary>
    public static void Tftp(ReadOnlySpan<byte> data)
    {
        if (TftpWire.TryReadOpcode(data, out _))
        {
            TftpWire.TryParseRequest(data, out _, out _, out _);
        }
    }

    /// <summary>
    /// Ethernet II / IPv4 / UDP. The first byte picks the variant: bit 0 fixes both checksums first (else the
    /// fuzzer rarely gets past them), bit 1 accepts a partial (offloaded) UDP checksum.
    /// </summary>
    public static void Udp(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var frame = data[1..].ToArray();
        if ((data[0] & 1) != 0)
        {
            FixIpv4Checksums(frame);
        }

        if (UdpFrame.Parse(frame, out var info, acceptPartialChecksum: (data[0] & 2) != 0) == UdpParseStatus.Ok)
        {
            _ = info.Payload(frame).Length;
        }
    }

    /// <summary>An ICMPv6 router solicitation frame as the router advertiser reads it; first byte bit 0 fixes the checksum.</summary>
    public static void RouterSolicitation(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var frame = data[1..].ToArray();
        if ((data[0] & 1) != 0)
        {
            FixIcmpv6Checksum(frame);
        }

        RouterAdvertiser.TryParseSolicitation(frame, out _, out _);
    }

    /// <summary>
    /// A full sync frame from a datagram, checked in the engine's order (header, MAC, payload); the first byte, when
    /// odd, re-signs the frame so that payload decoding is reached, as from a peer holding the key.
    /// </summary>
    public static void SyncFrame(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var frame = data[1..].ToArray();
        if ((data[0] & 1) != 0 && frame.Length >= FrameHeader.Overhead)
        {
            s_syncMac.Compute(frame.AsSpan(0, frame.Length - FrameHeader.MacSize), frame.AsSpan(frame.Length - FrameHeader.MacSize));
        }

        try
        {
            var header = FrameCodec.ReadDatagram(frame, 1 << 20);
            if (!FrameCodec.Verify(frame, s_syncMac))
            {
                return;
            }

            DecodePayload(header.Type, FrameCodec.Payload(frame, header));
        }
        catch (Exception e) when (e is SyncProtocolException or InvalidProtocolBufferException or StateException)
        {
        }
    }

    /// <summary>A compact hello datagram: read, then verified for a sequence reconstructed from its low bits.</summary>
    public static void SyncCompact(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || !CompactHello.IsCompact(data[0]))
        {
            return;
        }

        try
        {
            var hello = CompactHello.Read(data);
            CompactHello.Verify(data, hello.SequenceLow | (1UL << 32), (UInt128)0x1234 << 64 | 0x5678, s_syncMac);
        }
        catch (SyncProtocolException)
        {
        }
    }

    /// <summary>
    /// The TCP stream framing: the input is cut into segments (each first byte is the next segment's length, as a
    /// pipe hands over whatever arrived) and frames are taken off the front as the connection's read loop does.
    /// </summary>
    public static void SyncStream(ReadOnlySpan<byte> data)
    {
        var segments = new List<byte[]>();
        var i = 0;
        while (i < data.Length)
        {
            var n = Math.Min(data[i] + 1, data.Length - i - 1);
            segments.Add(data.Slice(i + 1, Math.Max(n, 0)).ToArray());
            i += 1 + Math.Max(n, 0);
        }

        var buffer = Sequence(segments);
        try
        {
            while (FrameCodec.TryReadFrame(ref buffer, 4096, out var header, out var frame))
            {
                if (frame.Length != header.FrameLength)
                {
                    throw new InvalidOperationException($"frame of {frame.Length} bytes for a header of {header.FrameLength}");
                }
            }
        }
        catch (SyncProtocolException)
        {
        }
    }

    /// <summary>
    /// RMCP+ replies: the first byte picks what the console expects (a session set-up payload of some type, or a
    /// session packet; bit 7 re-signs the latter with the session's integrity key so decryption is reached), then
    /// the IPMI response inside is read as the driver reads a Get Chassis Status reply.
    /// </summary>
    public static void Ipmi(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var packet = data[1..].ToArray();
        try
        {
            switch (data[0] & 7)
            {
                case 0:
                    IpmiCodec.ReadUnauthenticated(packet, IpmiPayloadType.OpenSessionResponse);
                    break;
                case 1:
                    IpmiCodec.ReadUnauthenticated(packet, IpmiPayloadType.Rakp2);
                    break;
                case 2:
                    IpmiCodec.ReadUnauthenticated(packet, IpmiPayloadType.Rakp4);
                    break;
                case 3:
                    IpmiCodec.TryReadResponse(packet, 0x00, 0x01, 0x04, out _, out _);
                    break;
                default:
                    if ((data[0] & 0x80) != 0)
                    {
                        SignIpmi(packet);
                    }

                    var message = IpmiCodec.ReadSessionPacket(packet, s_ipmiKeys, 0xA0A1A2A3);
                    IpmiCodec.TryReadResponse(message, 0x00, 0x01, 0x04, out _, out _);
                    break;
            }
        }
        catch (PowerException)
        {
        }
    }

    /// <summary>
    /// Redfish replies: the input is split at NUL bytes into the bodies of successive replies (service root,
    /// Systems, the system, then the session or the reset); a body starting with '!' comes with status 400. The
    /// real driver runs a status query and a power cycle against them.
    /// </summary>
    public static void Redfish(ReadOnlySpan<byte> data)
    {
        var bodies = Encoding.UTF8.GetString(data).Split('\0');
        foreach (var action in new[] { PowerAction.Status, PowerAction.Cycle })
        {
            using var handler = new ReplayHandler(bodies);
            using var driver = new RedfishPowerDriver(NoCredentials.Instance, new RedfishOptions { Auth = RedfishAuth.Basic }, handler);
            var target = new PowerTarget(new NodeId(1, 2), "redfish", "bmc.example") { User = "admin", Credential = "c" };
            try
            {
                driver.ExecuteAsync(target, action, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
            catch (PowerException)
            {
            }
        }
    }

    /// <summary>A state file (current or legacy format): every fault must come back as a listed error, never a throw.</summary>
    public static void StateFile(ReadOnlySpan<byte> data) => StateFileReader.Read(data.ToArray());

    /// <summary>
    /// Range and If-Range as the HTTP boot server reads them: the text before the first newline is Range, after it
    /// If-Range; selected against a 1000-byte file, and the chosen part must lie inside the file.
    /// </summary>
    public static void HttpRange(ReadOnlySpan<byte> data)
    {
        var text = Encoding.UTF8.GetString(data);
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Headers.Range = newline < 0 ? text : text[..newline];
        if (newline >= 0)
        {
            context.Request.Headers.IfRange = text[(newline + 1)..];
        }

        const long Length = 1000;
        var (status, start, count) = ByteRanges.Select(context.Request, Length, new EntityTagHeaderValue("\"abc\""), new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        if (start < 0 || count < 0 || start + count > Length || (status == 206 && count == 0))
        {
            throw new InvalidOperationException($"selected {status} {start}+{count} of {Length} bytes");
        }
    }

    /// <summary>
    /// A kernel command line as <c>kraken serve --boot</c> reads /proc/cmdline. What parses must format back to
    /// arguments that parse to the same thing.
    /// </summary>
    public static void KernelArgs(ReadOnlySpan<byte> data)
    {
        KernelArguments args;
        try
        {
            args = KernelArguments.Parse(Encoding.UTF8.GetString(data));
        }
        catch (DaemonConfigException)
        {
            return;
        }

        var formatted = args.Format();
        var again = KernelArguments.Parse(formatted).Format();
        if (again != formatted)
        {
            throw new InvalidOperationException($"'{formatted}' reads back as '{again}'");
        }
    }

    private static void DecodePayload(MessageType type, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case MessageType.Hello:
                HelloCodec.Read(payload);
                break;
            case MessageType.FullHello:
                Records(Net.Sync.Proto.FullHello.Parser.ParseFrom(payload).Records);
                break;
            case MessageType.Delta:
                Records(Net.Sync.Proto.Delta.Parser.ParseFrom(payload).Records);
                break;
            case MessageType.Ack:
                Net.Sync.Proto.Ack.Parser.ParseFrom(payload);
                break;
            case MessageType.RepairRequest:
                Net.Sync.Proto.RepairRequest.Parser.ParseFrom(payload);
                break;
            case MessageType.JoinChallenge:
                Net.Sync.Proto.JoinChallenge.Parser.ParseFrom(payload);
                break;
            case MessageType.JoinRequest:
                Net.Sync.Proto.JoinRequest.Parser.ParseFrom(payload);
                break;
            case MessageType.JoinAccept:
                var accept = Net.Sync.Proto.JoinAccept.Parser.ParseFrom(payload);
                Records(accept.Cfg);
                if (!accept.Dsc.IsEmpty)
                {
                    NodeRecordCodec.FromBytes(accept.Dsc.Span, StateSchema.Default);
                }

                break;
            case MessageType.JoinReject:
                Net.Sync.Proto.JoinReject.Parser.ParseFrom(payload);
                break;
        }
    }

    private static void Records(IEnumerable<ByteString> records)
    {
        foreach (var r in records)
        {
            NodeRecordCodec.FromBytes(r.Span, StateSchema.Default);
        }
    }

    private static void FixIpv4Checksums(byte[] frame)
    {
        const int Ip = UdpFrame.EthernetHeaderLength;
        if (frame.Length < Ip + 20 || (frame[Ip] >> 4) != 4)
        {
            return;
        }

        var ihl = (frame[Ip] & 0xF) * 4;
        if (ihl < 20 || frame.Length < Ip + ihl)
        {
            return;
        }

        var header = frame.AsSpan(Ip, ihl);
        header[10] = header[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], InternetChecksum.Compute(header));

        var total = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(header[2..]), frame.Length - Ip);
        if (header[9] != UdpFrame.ProtocolUdp || total < ihl + 8)
        {
            return;
        }

        var udp = frame.AsSpan(Ip + ihl, total - ihl);
        var length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(udp[4..]), udp.Length);
        if (length < 8)
        {
            return;
        }

        udp = udp[..length];
        udp[6] = udp[7] = 0;
        Span<byte> pseudo = stackalloc byte[12];
        header.Slice(12, 8).CopyTo(pseudo);
        pseudo[9] = UdpFrame.ProtocolUdp;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo[10..], (ushort)length);
        var sum = InternetChecksum.Finish(InternetChecksum.Add(InternetChecksum.Add(0, pseudo), udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], sum == 0 ? (ushort)0xFFFF : sum);
    }

    private static void FixIcmpv6Checksum(byte[] frame)
    {
        const int Ip = 14;
        if (frame.Length < Ip + 40 + 4)
        {
            return;
        }

        var length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(Ip + 4)), frame.Length - Ip - 40);
        if (length < 4)
        {
            return;
        }

        var icmp = frame.AsSpan(Ip + 40, length);
        icmp[2] = icmp[3] = 0;
        Span<byte> pseudo = stackalloc byte[40];
        frame.AsSpan(Ip + 8, 32).CopyTo(pseudo);
        var sum = InternetChecksum.Add(0, pseudo);
        Span<byte> tail = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(tail, (uint)length);
        tail[7] = 58;
        sum = InternetChecksum.Add(InternetChecksum.Add(sum, tail), icmp);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Finish(sum));
    }

    /// <summary>Writes the integrity trailer of an RMCP+ session packet whose layout is sound enough to find it.</summary>
    private static void SignIpmi(byte[] packet)
    {
        if (packet.Length < 16)
        {
            return;
        }

        var payload = BinaryPrimitives.ReadUInt16LittleEndian(packet.AsSpan(14));
        var pad = (4 - (16 - 4 + payload + 2) % 4) % 4;
        var signed = 16 + payload + pad + 2;
        var auth = IpmiCipherSuite.Suite17.AuthCodeLength;
        if (signed + auth != packet.Length)
        {
            return;
        }

        IpmiCipherSuite.Suite17.Hmac(s_ipmiKeys.K1, packet.AsSpan(4, signed - 4)).AsSpan(0, auth).CopyTo(packet.AsSpan(signed));
    }

    private static ReadOnlySequence<byte> Sequence(List<byte[]> segments)
    {
        if (segments.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(segments[0], 0);
        var last = first;
        foreach (var s in segments.Skip(1))
        {
            last = last.Append(s);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    private sealed class NoCredentials : ICredentialProvider
    {
        public static NoCredentials Instance { get; } = new();

        public bool TryGetSecret(string reference, out string secret)
        {
            secret = "secret";
            return true;
        }
    }

    /// <summary>Answers the n-th request with the n-th body (the last one repeats), synchronously.</summary>
    private sealed class ReplayHandler(string[] bodies) : HttpMessageHandler
    {
        private int _next;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = bodies[Math.Min(_next++, bodies.Length - 1)];
            var status = HttpStatusCode.OK;
            if (body.StartsWith('!'))
            {
                status = HttpStatusCode.BadRequest;
                body = body[1..];
            }

            var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json"), RequestMessage = request };
            return Task.FromResult(response);
        }
    }
}
