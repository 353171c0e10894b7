// The request parser against every truncation and byte-flip of valid requests, and the packet writers.
using System.Buffers.Binary;
using System.Text;
using Kraken.Modules.Pxe.Tftp;
using Kraken.Modules.Pxe.Tftp.Internal;

namespace Kraken.Modules.Tests.Pxe.Tftp;

public sealed class TftpWireTests
{
    private static readonly byte[] s_full = TestTftpClient.Request("pxelinux.cfg/01-52-54-00-18-00-01", new TestReadOptions
    {
        BlockSize = 1468,
        WindowSize = 16,
        TransferSize = true,
    });

    [Fact]
    public void Parses_a_request_with_options()
    {
        Assert.True(TftpWire.TryParseRequest(s_full, out var r, out _, out _));
        Assert.Equal("pxelinux.cfg/01-52-54-00-18-00-01", r!.Path);
        Assert.Equal(TftpMode.Octet, r.Mode);
        Assert.Equal(1468, r.BlockSize);
        Assert.Equal(16, r.WindowSize);
        Assert.Equal(0, r.TransferSize);
        Assert.Null(r.Timeout);
    }

    [Fact]
    public void Option_names_and_mode_are_case_insensitive_and_unknown_options_ignored()
    {
        var packet = Encoding.ASCII.GetBytes("\0\u0001f\0NetASCII\0BLKSIZE\0100000\0multicast\0\0Timeout\u00003\0\0\0");
        Assert.True(TftpWire.TryParseRequest(packet, out var r, out _, out _));
        Assert.Equal(TftpMode.NetAscii, r!.Mode);
        Assert.Equal(65464, r.BlockSize);   // capped to the RFC maximum
        Assert.Equal(3, r.Timeout);
        Assert.Null(r.WindowSize);
    }

    [Fact]
    public void Every_truncation_is_refused_or_parsed_without_throwing()
    {
        for (var n = 0; n < s_full.Length; n++)
        {
            var prefix = s_full.AsSpan(0, n);
            if (n < 2)
            {
                Assert.False(TftpWire.TryReadOpcode(prefix, out _));
                continue;
            }

            var ok = TftpWire.TryParseRequest(prefix, out var r, out var reason, out var detail);
            if (ok)
            {
                // Only cuts at an option boundary parse, and they lose the options after the cut.
                Assert.Equal(0, s_full[n - 1]);
                Assert.True(r!.WindowSize is null || r.TransferSize is not null);
            }
            else
            {
                Assert.NotEmpty(detail);
                Assert.True(Enum.IsDefined(reason));
            }
        }
    }

    [Fact]
    public void Random_corruptions_never_throw()
    {
        var rng = new Random(17);
        for (var i = 0; i < 20_000; i++)
        {
            var packet = (byte[])s_full.Clone();
            for (var k = rng.Next(1, 4); k > 0; k--)
            {
                packet[rng.Next(2, packet.Length)] = (byte)rng.Next(256);
            }

            TftpWire.TryParseRequest(packet.AsSpan(0, rng.Next(2, packet.Length + 1)), out _, out _, out _);
        }
    }

    [Fact]
    public void Writes_oack_with_only_the_given_options()
    {
        var buffer = new byte[100];
        var n = TftpWire.WriteOptionAck(buffer, 1468, null, null, 8);
        Assert.Equal("\0\u0006blksize\u00001468\0windowsize\u00008\0", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void Writes_error_with_a_terminating_nul_and_cuts_long_messages()
    {
        var buffer = new byte[2000];
        var n = TftpWire.WriteError(buffer, TftpErrorCode.FileNotFound, new string('x', 1000));
        Assert.Equal(TftpWire.MaxControlPacket, n);
        Assert.Equal(5, BinaryPrimitives.ReadUInt16BigEndian(buffer));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)));
        Assert.Equal(0, buffer[n - 1]);
    }

    [Fact]
    public void Options_validate_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentException>(() => new TftpServerOptions { MaxBlockSize = 7 }.Validate());
        Assert.Contains(nameof(TftpServerOptions.MaxBlockSize), e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new TftpServerOptions { MaxWindowSize = 0 }.Validate());
        Assert.Contains(nameof(TftpServerOptions.MaxWindowSize), e.Message, StringComparison.Ordinal);
    }
}
