// The DHCP message codec: round trips, option overload, and every kind of broken message.
using System.Buffers.Binary;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Packets;

namespace Kraken.Modules.Tests.Pxe.Dhcp;

public class DhcpCodecTests
{
    private static readonly MacAddress Mac = new(0x5254_0018_0001);

    private static byte[] PxeDiscover() => DhcpFrames.Message(DhcpMessageType.Discover, Mac, xid: 0xCAFEF00D, flags: DhcpMessage.BroadcastFlag,
        options: o => o
            .Add(DhcpOption.MaxMessageSize, 0x05, 0xc0)
            .Add(DhcpOption.ClientArch, 0x00, 0x07)
            .Add(DhcpOption.ClientNdi, 1, 3, 10)
            .Add(DhcpOption.ClientUuid, [0, .. Enumerable.Range(1, 16).Select(i => (byte)i)])
            .Text(DhcpOption.VendorClass, "PXEClient:Arch:00007:UNDI:003010")
            .Add(DhcpOption.ParameterRequestList, 1, 3, 6, 12, 15, 43, 60, 66, 67)
            .Add(DhcpOption.Ipxe, 0x13, 1, 1)
            .Address(DhcpOption.RequestedAddress, 0xC612_000A)
            .Address(DhcpOption.ServerIdentifier, DhcpFrames.ServerIp));

    [Fact]
    public void A_written_message_parses_back_to_the_same_fields()
    {
        var bytes = PxeDiscover();
        Assert.InRange(bytes.Length, DhcpCodec.MinimumLength, 400);
        Assert.True(DhcpCodec.TryParse(bytes, out var m, out var reason), reason.ToString());

        Assert.Equal(DhcpMessage.BootRequest, m.Op);
        Assert.Equal(0xCAFEF00Du, m.TransactionId);
        Assert.True(m.Broadcast);
        Assert.Equal(Mac, m.ClientMac);
        Assert.Equal(DhcpMessageType.Discover, m.MessageType);
        Assert.Equal((ushort)1472, m.MaxMessageSize);
        Assert.Equal((ushort)7, m.ClientArchType);
        Assert.Equal(DhcpClientArch.UefiX64, m.Arch);
        Assert.Equal(0xC612_000Au, m.RequestedAddress);
        Assert.Equal(DhcpFrames.ServerIp, m.ServerIdentifier);
        Assert.True(m.VendorClassStartsWith(bytes, "PXEClient"u8));
        Assert.Equal(17, m.ClientUuid.Length);
        Assert.Equal(16, m.ClientUuid.Of(bytes)[16]);
        Assert.True(m.Requested(bytes, DhcpOption.BootFileName));
        Assert.False(m.Requested(bytes, DhcpOption.Router + 1));
        Assert.True(m.IsIpxe(bytes));
        Assert.False(m.ServerName.Present);
        Assert.False(m.BootFile.Present);
    }

    [Fact]
    public void A_reply_header_round_trips_with_file_and_server_name()
    {
        var buffer = new byte[600];
        var writer = new DhcpWriter(buffer);
        writer.Header(DhcpMessage.BootReply, 7, 0, 0, 0, 0xC612_000A, DhcpFrames.ServerIp, 0xC612_0101, Mac, "boot-server", "undionly.kpxe");
        writer.Option(DhcpOption.MessageType, (byte)DhcpMessageType.Offer);
        writer.OptionUInt32(DhcpOption.LeaseTime, 3600);
        writer.OptionAscii(DhcpOption.HostName, "n0001");
        var length = writer.Finish();

        Assert.True(DhcpCodec.TryParse(buffer.AsSpan(0, length), out var m, out _));
        Assert.Equal(DhcpMessage.BootReply, m.Op);
        Assert.Equal(0xC612_000Au, m.YourAddress);
        Assert.Equal(DhcpFrames.ServerIp, m.ServerAddress);
        Assert.Equal(0xC612_0101u, m.RelayAddress);
        Assert.Equal(3600u, m.LeaseSeconds);
        Assert.Equal("undionly.kpxe"u8.ToArray(), m.BootFile.Of(buffer).ToArray());
        Assert.Equal("boot-server"u8.ToArray(), m.ServerName.Of(buffer).ToArray());
        Assert.Equal("n0001"u8.ToArray(), m.HostName.Of(buffer).ToArray());
    }

    [Fact]
    public void Overloaded_file_and_sname_fields_are_read_as_options()
    {
        var bytes = DhcpFrames.Message(DhcpMessageType.Request, Mac, options: o => o.Add(DhcpOption.Overload, 3));
        bytes[DhcpCodec.FileOffset] = DhcpOption.RequestedAddress;
        bytes[DhcpCodec.FileOffset + 1] = 4;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(DhcpCodec.FileOffset + 2), 0xC612_000A);
        bytes[DhcpCodec.FileOffset + 6] = DhcpOption.End;
        bytes[DhcpCodec.ServerNameOffset] = DhcpOption.ServerIdentifier;
        bytes[DhcpCodec.ServerNameOffset + 1] = 4;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(DhcpCodec.ServerNameOffset + 2), DhcpFrames.ServerIp);
        bytes[DhcpCodec.ServerNameOffset + 6] = DhcpOption.End;

        Assert.True(DhcpCodec.TryParse(bytes, out var m, out var reason), reason.ToString());
        Assert.Equal(0xC612_000Au, m.RequestedAddress);
        Assert.Equal(DhcpFrames.ServerIp, m.ServerIdentifier);
        Assert.False(m.BootFile.Present);   // the field holds options, not a name
    }

    [Fact]
    public void Overloaded_fields_without_an_end_option_are_rejected()
    {
        var bytes = DhcpFrames.Message(DhcpMessageType.Request, Mac, options: o => o.Add(DhcpOption.Overload, 1));
        bytes.AsSpan(DhcpCodec.FileOffset, DhcpCodec.FileLength).Fill(DhcpOption.Pad);
        Assert.False(DhcpCodec.TryParse(bytes, out _, out var reason));
        Assert.Equal(DhcpDropReason.MissingEnd, reason);

        bytes.AsSpan(DhcpCodec.FileOffset, DhcpCodec.FileLength).Fill(0x0c);  // option 12 of length 12, repeatedly, overflowing the field
        Assert.False(DhcpCodec.TryParse(bytes, out _, out reason));
        Assert.Equal(DhcpDropReason.OptionOverflow, reason);
    }

    public static TheoryData<string, byte[], DhcpDropReason> Broken()
    {
        var good = PxeDiscover();
        var data = new TheoryData<string, byte[], DhcpDropReason>
        {
            { "empty", [], DhcpDropReason.Truncated },
            { "header only", good[..239], DhcpDropReason.Truncated },
            { "huge hlen", With(good, b => b[2] = 200), DhcpDropReason.BadHardwareAddress },
            { "no cookie", With(good, b => b[236] = 0), DhcpDropReason.NoMagicCookie },
            { "no options, no end", good[..240], DhcpDropReason.MissingEnd },
            { "options cut", good[..250], DhcpDropReason.OptionOverflow },
            { "overflowing option", [.. good[..240], DhcpOption.HostName, 200, (byte)'a', (byte)'b'], DhcpDropReason.OptionOverflow },
            { "length byte missing", [.. good[..240], 53, 1, 1, DhcpOption.HostName], DhcpDropReason.OptionOverflow },
            { "bad type length", [.. good[..240], 53, 2, 1, 1, 255], DhcpDropReason.BadOptionLength },
            { "bad address length", [.. good[..240], 53, 1, 1, 50, 3, 1, 2, 3, 255], DhcpDropReason.BadOptionLength },
            { "bad uuid length", [.. good[..240], 53, 1, 1, 97, 3, 0, 1, 2, 255], DhcpDropReason.BadOptionLength },
            { "odd arch length", [.. good[..240], 53, 1, 1, 93, 3, 0, 0, 7, 255], DhcpDropReason.BadOptionLength },
            { "bad overload", [.. good[..240], 53, 1, 1, 52, 1, 9, 255], DhcpDropReason.BadOverload },
            { "missing end", [.. good[..240], 53, 1, 1, 12, 2, (byte)'a', (byte)'b'], DhcpDropReason.MissingEnd },
            { "no message type", [.. good[..240], 12, 1, (byte)'a', 255], DhcpDropReason.NoMessageType },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void Broken_messages_are_rejected_with_their_reason(string name, byte[] bytes, DhcpDropReason expected)
    {
        Assert.False(DhcpCodec.TryParse(bytes, out _, out var reason), name);
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Every_truncation_and_random_bytes_are_rejected_without_throwing()
    {
        var good = PxeDiscover();
        var end = Array.LastIndexOf(good, DhcpOption.End);
        for (var length = 0; length <= end; length++)
        {
            Assert.False(DhcpCodec.TryParse(good.AsSpan(0, length), out _, out _), $"length {length}");
        }

        var random = new Random(42);
        var buffer = new byte[600];
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            if (i % 2 == 0 && length >= 240)
            {
                BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(236), DhcpCodec.MagicCookie);   // get past the cookie
            }

            _ = DhcpCodec.TryParse(buffer.AsSpan(0, length), out _, out _);
        }
    }

    [Fact]
    public void User_class_is_matched_bare_or_as_an_rfc3004_list()
    {
        var bare = DhcpFrames.Message(DhcpMessageType.Discover, Mac, options: o => o.Text(DhcpOption.UserClass, "iPXE"));
        Assert.True(DhcpCodec.TryParse(bare, out var m, out _));
        Assert.True(m.IsIpxe(bare));

        var list = DhcpFrames.Message(DhcpMessageType.Discover, Mac, options: o => o.Add(DhcpOption.UserClass, 3, (byte)'f', (byte)'o', (byte)'o', 4, (byte)'i', (byte)'P', (byte)'X', (byte)'E'));
        Assert.True(DhcpCodec.TryParse(list, out m, out _));
        Assert.True(m.IsIpxe(list));

        var other = DhcpFrames.Message(DhcpMessageType.Discover, Mac, options: o => o.Text(DhcpOption.UserClass, "gPXE"));
        Assert.True(DhcpCodec.TryParse(other, out m, out _));
        Assert.False(m.IsIpxe(other));
    }

    private static byte[] With(byte[] bytes, Action<byte[]> change)
    {
        var copy = (byte[])bytes.Clone();
        change(copy);
        return copy;
    }
}
