// The seed corpus: a few valid inputs per target, made by our own encoders (or, for state files, the examples).
using System.Buffers.Binary;
using System.Net;
using System.Text;
using Kraken.Daemon.Boot;
using Kraken.Modules.Power.Ipmi;
using Kraken.Modules.Pxe.Tftp.Internal;
using Kraken.Net.Packets;
using Kraken.Net.Sync;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;

namespace Kraken.Fuzz;

/// <summary>Writes bench/fuzz/corpus/TARGET/NAME files (run.sh seed regenerates them).</summary>
public static class Seeds
{
    public static void Write(string corpus, string examples)
    {
        foreach (var (target, name, bytes) in All(examples))
        {
            var dir = Path.Combine(corpus, target);
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
    }

    private static IEnumerable<(string Target, string Name, byte[] Bytes)> All(string examples)
    {
        var discover = Dhcp(1, [53, 1, 1, 61, 7, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 93, 2, 0, 7, 60, 9, .. "PXEClient"u8, 55, 4, 1, 3, 66, 67, 255]);
        var ipxe = Dhcp(1, [53, 1, 3, 50, 4, 198, 18, 0, 10, 54, 4, 198, 18, 0, 1, 77, 4, .. "iPXE"u8, 175, 3, 0xb1, 1, 1, 82, 6, 1, 4, 0, 0, 0, 1, 255]);
        var offer = Dhcp(2, [53, 1, 2, 52, 1, 3, 51, 4, 0, 0, 14, 16, 255]);
        yield return ("dhcp", "discover-pxe", discover);
        yield return ("dhcp", "request-ipxe", ipxe);
        yield return ("dhcp", "offer-overload", offer);

        yield return ("tftp", "rrq-options", [0, 1, .. "pxelinux.0"u8, 0, .. "octet"u8, 0, .. "blksize"u8, 0, .. "1468"u8, 0, .. "tsize"u8, 0, .. "0"u8, 0, .. "windowsize"u8, 0, .. "4"u8, 0, .. "timeout"u8, 0, .. "3"u8, 0]);
        yield return ("tftp", "rrq-netascii", [0, 1, .. "boot/ipxe.efi"u8, 0, .. "netascii"u8, 0]);
        var ack = new byte[4];
        TftpWire.WriteAck(ack, 7);
        yield return ("tftp", "ack", ack);
        var error = new byte[64];
        yield return ("tftp", "error", error[..TftpWire.WriteError(error, TftpErrorCode.FileNotFound, "no such file")]);

        var frame = new byte[UdpFrame.HeaderLength + discover.Length];
        UdpFrame.Write(frame, new MacAddress(0x525400123456), new MacAddress(0xFFFFFFFFFFFF), 0, 0xFFFFFFFF, 68, 67, discover);
        yield return ("udp", "dhcp-broadcast", [0, .. frame]);
        yield return ("udp", "dhcp-fix-checksums", [1, .. frame]);
        var small = new byte[UdpFrame.HeaderLength + 4];
        UdpFrame.Write(small, new MacAddress(0x525400123456), new MacAddress(0x525400654321), 0xC6120002, 0xC6120001, 1234, 69, [0, 1, 0, 0]);
        yield return ("udp", "small", [0, .. small]);

        yield return ("icmpv6-rs", "unspecified-source", [1, .. RouterSolicitationFrame(unspecified: true)]);
        yield return ("icmpv6-rs", "link-local-with-sllao", [1, .. RouterSolicitationFrame(unspecified: false)]);

        using var mac = new FrameMac(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var sender = (UInt128)0x1234 << 64 | 0x5678;
        var helloPayload = new byte[HelloCodec.MaxSize];
        var helloLength = HelloCodec.Write(helloPayload, new HelloPayload(0xDEADBEEFCAFEF00D, 12, true));
        var hello = FrameCodec.ToArray(MessageType.Hello, sender, 5, helloPayload.AsSpan(0, helloLength), mac);
        var record = NodeRecord.Empty(new NodeId(7, 9)).With("/Nodename", "n1").With("/Arch", "amd64");
        var delta = new Net.Sync.Proto.Delta { DeltaId = 3, Control = new Net.Sync.Proto.Control { Version = 2, Frozen = true } };
        delta.Records.Add(Google.Protobuf.ByteString.CopyFrom(NodeRecordCodec.ToBytes(record)));
        var deltaFrame = FrameCodec.ToArray(MessageType.Delta, sender, 6, Google.Protobuf.MessageExtensions.ToByteArray(delta), mac);
        var ackMessage = new Net.Sync.Proto.Ack();
        ackMessage.DeltaIds.Add([1, 2, 300]);
        var ackFrame = FrameCodec.ToArray(MessageType.Ack, sender, 7, Google.Protobuf.MessageExtensions.ToByteArray(ackMessage), mac);
        var reject = FrameCodec.ToArray(MessageType.JoinReject, sender, 1, Google.Protobuf.MessageExtensions.ToByteArray(new Net.Sync.Proto.JoinReject { Reason = "no" }), mac, FrameHeader.BootstrapFlag);
        yield return ("sync-frame", "hello", [0, .. hello]);
        yield return ("sync-frame", "delta-resign", [1, .. deltaFrame]);
        yield return ("sync-frame", "ack", [0, .. ackFrame]);
        yield return ("sync-frame", "join-reject", [0, .. reject]);

        var compact = new byte[CompactHello.Size];
        CompactHello.Write(compact, 0xA1B2C3D4, (1UL << 32) | 77, 0x01020304, false, sender, mac);
        yield return ("sync-compact", "hello", compact);
        CompactHello.Write(compact, 1, (1UL << 32) | 5, 0, true, sender, mac);
        yield return ("sync-compact", "pending", compact);

        yield return ("sync-stream", "two-frames", Segments([.. hello, .. deltaFrame], 40));
        yield return ("sync-stream", "byte-by-byte", Segments(ackFrame, 1));
        yield return ("sync-stream", "partial", Segments(deltaFrame[..^5], 255));

        var openResponse = new byte[36];
        openResponse[0] = 0x2A;
        openResponse[2] = 4;
        BinaryPrimitives.WriteUInt32LittleEndian(openResponse.AsSpan(4), 0xA0A1A2A3);
        BinaryPrimitives.WriteUInt32LittleEndian(openResponse.AsSpan(8), 0x01020304);
        yield return ("ipmi", "open-session-response", [0, .. IpmiCodec.Unauthenticated(IpmiPayloadType.OpenSessionResponse, openResponse)]);
        yield return ("ipmi", "rakp2", [1, .. IpmiCodec.Unauthenticated(IpmiPayloadType.Rakp2, new byte[40])]);
        yield return ("ipmi", "rakp4", [2, .. IpmiCodec.Unauthenticated(IpmiPayloadType.Rakp4, new byte[24])]);
        var chassis = IpmiCodec.Request(0x00, 0x01, 0x04, [0x01, 0x00, 0x00]);
        yield return ("ipmi", "lan-message", [3, .. chassis]);
        using (var keys = new IpmiSessionKeys(IpmiCipherSuite.Suite17, Enumerable.Repeat((byte)0x11, 32).ToArray(), Enumerable.Repeat((byte)0x22, 16).ToArray()))
        {
            yield return ("ipmi", "session-packet", [0x84, .. IpmiCodec.SessionPacket(keys, 0xA0A1A2A3, 9, chassis)]);
        }

        const string Root = """{"@odata.id":"/redfish/v1","Systems":{"@odata.id":"/redfish/v1/Systems"}}""";
        const string Systems = """{"Members":[{"@odata.id":"/redfish/v1/Systems/1"}],"Members@odata.count":1}""";
        const string System = """{"Id":"1","PowerState":"On","Actions":{"#ComputerSystem.Reset":{"target":"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset","ResetType@Redfish.AllowableValues":["On","ForceOff","ForceRestart","GracefulShutdown"]}}}""";
        const string Error = """!{"error":{"code":"Base.1.0.GeneralError","message":"bad","@Message.ExtendedInfo":[{"Message":"ResetType not allowed"}]}}""";
        yield return ("redfish", "status", Encoding.UTF8.GetBytes(string.Join('\0', Root, Systems, System)));
        yield return ("redfish", "cycle", Encoding.UTF8.GetBytes(string.Join('\0', Root, Systems, System, "", Root, Systems, System, "")));
        yield return ("redfish", "reset-refused", Encoding.UTF8.GetBytes(string.Join('\0', Root, Systems, System, Root, Systems, System, Error)));

        yield return ("statefile", "current", File.ReadAllBytes(Path.Combine(examples, "cluster-3tier.json")));
        yield return ("statefile", "legacy", File.ReadAllBytes(Path.Combine(examples, "legacy-vbox-nodelist.json")));
        var written = StateFileWriter.WriteToString([NodeRecord.Empty(new NodeId(1, 1)).With("/Nodename", "root"), record.With("/ParentId", new NodeId(1, 1).ToString())]);
        yield return ("statefile", "written", Encoding.UTF8.GetBytes(written));

        yield return ("http-range", "closed", "bytes=0-99"u8.ToArray());
        yield return ("http-range", "suffix-etag", "bytes=-10\n\"abc\""u8.ToArray());
        yield return ("http-range", "open-date", "bytes=500-\nFri, 02 Jan 2026 03:04:05 GMT"u8.ToArray());
        yield return ("http-range", "weak", "bytes=1-2\nW/\"abc\""u8.ToArray());

        var args = new KernelArguments
        {
            Id = new NodeId(0x1234, 0x5678),
            Name = "tier1-a",
            Mac = new MacAddress(0x525400123456),
            Address = IPAddress.Parse("198.18.0.10"),
            PrefixLength = 24,
            Gateway = IPAddress.Parse("198.18.0.1"),
            Parents = [new IPEndPoint(IPAddress.Parse("198.18.0.1"), 31415), new IPEndPoint(IPAddress.Parse("198.18.0.2"), 31416)],
            Mtu = 9000,
        };
        yield return ("kernel-args", "formatted", Encoding.UTF8.GetBytes("BOOT_IMAGE=/vmlinuz quiet " + args.Format() + " console=ttyS0"));
        yield return ("kernel-args", "quoted", "root=/dev/ram0 \"kraken.name=x\" kraken.id=00000000-0000-0000-0000-00000000000a kraken.ip=198.18.0.5 kraken.parent=\"198.18.0.1:31415\" kraken.gw= rd.break"u8.ToArray());
        yield return ("kernel-args", "minimal", Encoding.UTF8.GetBytes(new KernelArguments { Id = new NodeId(1, 2), Interface = "eth0", Address = IPAddress.Parse("198.18.1.2"), Parents = [new IPEndPoint(IPAddress.Parse("198.18.1.1"), 31415)] }.Format()));
    }

    private static byte[] Dhcp(byte op, byte[] options)
    {
        var m = new byte[240 + options.Length];
        m[0] = op;
        m[1] = 1;
        m[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), 0x3903F326);
        new byte[] { 0x52, 0x54, 0, 0x12, 0x34, 0x56 }.CopyTo(m, 28);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(236), 0x63825363);
        options.CopyTo(m, 240);
        if (op == 2)
        {
            // Option overload 3: file (108) and sname (44) hold options too, each ending with the end option.
            m[108] = 67;
            m[109] = 4;
            "boot"u8.CopyTo(m.AsSpan(110));
            m[114] = 255;
            m[44] = 66;
            m[45] = 2;
            m[46] = (byte)'s';
            m[47] = (byte)'1';
            m[48] = 255;
        }

        return m;
    }

    private static byte[] RouterSolicitationFrame(bool unspecified)
    {
        var icmp = unspecified ? new byte[8] : [133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56];
        icmp[0] = 133;
        var f = new byte[14 + 40 + icmp.Length];
        new byte[] { 0x33, 0x33, 0, 0, 0, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x86, 0xDD }.CopyTo(f, 0);
        f[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), (ushort)icmp.Length);
        f[20] = 58;
        f[21] = 255;
        if (!unspecified)
        {
            f[22] = 0xFE;
            f[23] = 0x80;
            f[37] = 0x10;
        }

        f[38] = 0xFF;
        f[39] = 0x02;
        f[53] = 2;
        icmp.CopyTo(f, 54);
        return f;
    }

    /// <summary>Cuts <paramref name="stream"/> into segments of at most <paramref name="size"/> bytes, each led by its length minus one.</summary>
    private static byte[] Segments(byte[] stream, int size)
    {
        var output = new List<byte>();
        for (var i = 0; i < stream.Length; i += size)
        {
            var n = Math.Min(size, stream.Length - i);
            output.Add((byte)(n - 1));
            output.AddRange(stream.AsSpan(i, n));
        }

        return [.. output];
    }
}
