// Request/reply logic of the configurator over a scripted channel: dumps over many datagrams, oversized
// datagrams, stale replies, interrupted dumps, refusals with errno names, timeouts.
using System.Buffers.Binary;
using System.Net;
using Kraken.Net.Execution;
using Kraken.Net.Link;
using Kraken.Net.Link.Internal.Netlink;
using Kraken.Net.Packets;

namespace Kraken.Net.Tests.Link.Netlink;

public class NetlinkClientTests
{
    private static ushort TypeOf(byte[] request) => BinaryPrimitives.ReadUInt16LittleEndian(request.AsSpan(4));

    private static byte[] Done() => NetlinkTestData.Control(Rtnl.NlmsgDone, 0, Rtnl.NlmFMulti);

    private static byte[] Ack(int error = 0, string? text = null) => NetlinkTestData.Control(Rtnl.NlmsgError, error, 0, text);

    private static MacAddress Mac(int n) => new(0x5254_0018_0000UL | (uint)n);

    /// <summary>Answers link dumps with <paramref name="links"/> packed in datagrams of <paramref name="datagram"/> bytes, address dumps with nothing.</summary>
    private static ScriptedChannel Dumping(IReadOnlyList<byte[]> links, int datagram) => new((request, _) => TypeOf(request) switch
    {
        Rtnl.RtmGetLink => NetlinkTestData.Pack([.. links, Done()], datagram),
        Rtnl.RtmGetAddr => [Done()],
        _ => throw new InvalidOperationException($"unexpected request type {TypeOf(request)}"),
    });

    [Theory]
    [InlineData(4096)]
    [InlineData(1)]          // every message in a datagram of its own
    [InlineData(200_000)]    // one datagram larger than the receive buffer
    public async Task A_dump_of_many_interfaces_is_read_whole_however_it_is_split(int datagram)
    {
        var links = Enumerable.Range(1, 2000).Select(i => NetlinkTestData.Link(i, $"eth{i}", Mac(i), 1000 + i)).ToList();
        var channel = Dumping(links, datagram);
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));

        var listed = await configurator.ListInterfacesAsync();

        Assert.Equal(2000, listed.Count);
        Assert.Equal(Enumerable.Range(1, 2000), listed.Select(l => l.Index));
        Assert.All(listed, l => Assert.Equal($"eth{l.Index}", l.Name));
        Assert.All(listed, l => Assert.Equal(Mac(l.Index), l.Mac));
        Assert.All(listed, l => Assert.Equal(1000 + l.Index, l.Mtu));
        if (datagram > 32 * 1024)
        {
            Assert.Contains(channel.BufferSizes, size => size >= 120_000);    // the buffer grew, the datagram was not cut
        }
    }

    [Fact]
    public async Task The_recorded_kernel_dumps_list_interfaces_with_their_addresses()
    {
        var channel = new ScriptedChannel((request, _) => TypeOf(request) switch
        {
            Rtnl.RtmGetLink => NetlinkTestData.Recorded("links"),
            Rtnl.RtmGetAddr => NetlinkTestData.Recorded("addresses"),
            _ => NetlinkTestData.Recorded("routes"),
        });
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));

        var kv0 = await configurator.FindByMacAsync(MacAddress.Read([0x52, 0x54, 0x00, 0x18, 0x00, 0x11]));
        var routes = await configurator.ListRoutesAsync();

        Assert.NotNull(kv0);
        Assert.Equal("kv0", kv0.Name);
        Assert.Equal("198.18.0.11/24", Assert.Single(kv0.Addresses).ToString());
        Assert.Equal("default via 198.18.0.1 ifindex 3", routes.Single(r => r.IsDefault).ToString());
        Assert.Null(await configurator.FindByMacAsync(Mac(0x99)));
        Assert.Equal("kv2", (await configurator.FindByNameAsync("kv2"))?.Name);
    }

    [Fact]
    public async Task Every_request_gets_a_new_sequence_number_and_stale_replies_are_skipped()
    {
        var channel = new ScriptedChannel(
            (request, n) =>
            {
                var sequence = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(8));
                // A late EEXIST for the previous request arrives first, in the same datagram as the real ack.
                return [NetlinkTestData.Stamp(Ack(-17), sequence - 1).Concat(NetlinkTestData.Stamp(Ack(), sequence)).ToArray()];
            },
            stampSequence: false);
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));
        var link = new LinkInfo(3, "eth0", Mac(3), 0, 1500, []);

        Assert.True(await configurator.AddAddressAsync(link, IPAddress.Parse("198.18.0.11"), 24));
        Assert.True(await configurator.AddAddressAsync(link, IPAddress.Parse("198.18.0.12"), 24));

        var sequences = channel.Requests.Select(r => BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(8))).ToList();
        Assert.Equal(2, sequences.Distinct().Count());
        Assert.DoesNotContain(0u, sequences);
    }

    [Fact]
    public async Task An_interrupted_dump_is_run_again_and_only_the_consistent_one_counts()
    {
        var channel = new ScriptedChannel((request, n) => TypeOf(request) switch
        {
            Rtnl.RtmGetLink when n == 0 => [NetlinkTestData.Link(1, "stale", Mac(1), 1500, headerFlags: Rtnl.NlmFMulti | Rtnl.NlmFDumpIntr), Done()],
            Rtnl.RtmGetLink => [NetlinkTestData.Link(1, "eth0", Mac(1), 1500), NetlinkTestData.Link(2, "eth1", Mac(2), 1500), Done()],
            _ => [Done()],
        });
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));

        var links = await configurator.ListInterfacesAsync();

        Assert.Equal(["eth0", "eth1"], links.Select(l => l.Name));
        Assert.Equal(2, channel.Requests.Count(r => TypeOf(r) == Rtnl.RtmGetLink));
    }

    [Fact]
    public async Task A_dump_that_never_settles_is_an_error()
    {
        var channel = new ScriptedChannel((request, _) =>
            [NetlinkTestData.Link(1, "eth0", Mac(1), 1500, headerFlags: Rtnl.NlmFMulti | Rtnl.NlmFDumpIntr), Done()]);
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));

        var e = await Assert.ThrowsAsync<NetworkConfigurationException>(() => configurator.ListInterfacesAsync());
        Assert.Equal("list interfaces: the kernel's tables kept changing during 5 dumps", e.Message);
        Assert.Equal(5, channel.Requests.Count);
    }

    [Fact]
    public async Task A_refusal_names_the_operation_the_interface_the_errno_and_the_kernels_text()
    {
        var channel = new ScriptedChannel((_, _) => NetlinkTestData.Recorded("mtutoobig"));
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));
        var link = new LinkInfo(3, "kv0", Mac(3), 0, 1500, []);

        var e = await Assert.ThrowsAsync<NetlinkException>(() => configurator.SetMtuAsync(link, 70000));

        Assert.Equal(22, e.Errno);
        Assert.Equal("EINVAL", e.ErrnoName);
        Assert.Equal("kv0", e.InterfaceName);
        Assert.Equal("set MTU 70000", e.Operation);
        Assert.Equal("set MTU 70000 on kv0: EINVAL (Invalid argument, errno 22): mtu greater than device maximum", e.Message);
    }

    [Fact]
    public async Task A_dump_that_ends_in_an_error_is_a_refusal()
    {
        var channel = new ScriptedChannel((_, _) => [NetlinkTestData.Control(Rtnl.NlmsgDone, -95, Rtnl.NlmFMulti)]);
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));

        var e = await Assert.ThrowsAsync<NetlinkException>(() => configurator.ListRoutesAsync());

        Assert.Equal("EOPNOTSUPP", e.ErrnoName);
        Assert.StartsWith("list routes: EOPNOTSUPP", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Already_present_is_success_and_absent_on_removal_is_no_change()
    {
        var replies = new Queue<int>([-17, -99, -3]);
        var channel = new ScriptedChannel((_, _) => [Ack(replies.Dequeue())]);
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));
        var link = new LinkInfo(3, "eth0", Mac(3), 0, 1500, []);

        Assert.False(await configurator.AddAddressAsync(link, IPAddress.Parse("198.18.0.11"), 24));
        Assert.False(await configurator.RemoveAddressAsync(link, IPAddress.Parse("198.18.0.11"), 24));
        Assert.False(await configurator.RemoveDefaultRouteAsync(link, IPAddress.Parse("198.18.0.1")));
    }

    [Fact]
    public async Task Another_default_route_is_named_and_left_alone()
    {
        var existing = new byte[128];
        var writer = new NetlinkWriter(existing, Rtnl.RtmNewRoute, Rtnl.NlmFMulti);
        var body = writer.Body(Rtnl.RtMsgLength);
        body[0] = Rtnl.AfInet;
        body[4] = Rtnl.RtTableMain;
        body[7] = Rtnl.RtnUnicast;
        writer.AttributeIpv4(Rtnl.RtaGateway, 0xC61200FE);
        writer.AttributeU32(Rtnl.RtaOif, 3);
        var route = existing[..writer.Finish()];
        var channel = new ScriptedChannel((request, _) => TypeOf(request) switch
        {
            Rtnl.RtmNewRoute => [Ack(-17)],
            _ => [route, Done()],
        });
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));
        var link = new LinkInfo(3, "eth0", Mac(3), 0, 1500, []);

        var e = await Assert.ThrowsAsync<NetworkConfigurationException>(() => configurator.AddDefaultRouteAsync(link, IPAddress.Parse("198.18.0.1")));

        Assert.Equal("add default route via 198.18.0.1 on eth0: EEXIST: the main table already has default via 198.18.0.254 ifindex 3", e.Message);
        Assert.DoesNotContain(channel.Requests, r => TypeOf(r) == Rtnl.RtmDelRoute);
    }

    [Fact]
    public async Task No_reply_within_the_timeout_names_the_operation()
    {
        var time = new VirtualTimeProvider();
        var channel = new ScriptedChannel((_, _) => []);
        using var configurator = new NetworkConfigurator(channel, time, TimeSpan.FromSeconds(5));
        var link = new LinkInfo(3, "eth0", Mac(3), 0, 1500, []);

        var pending = configurator.SetUpAsync(link);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        var e = await Assert.ThrowsAsync<NetworkConfigurationException>(() => pending);
        Assert.Equal("set link up on eth0: no reply from the kernel within 5 s", e.Message);
        Assert.Equal("eth0", e.InterfaceName);
    }

    [Fact]
    public async Task Bad_arguments_are_refused_before_anything_is_sent()
    {
        var channel = new ScriptedChannel((_, _) => [Ack()]);
        using var configurator = new NetworkConfigurator(channel, TimeProvider.System, TimeSpan.FromSeconds(30));
        var link = new LinkInfo(3, "eth0", Mac(3), 0, 1500, []);

        Assert.Equal("prefixLength", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => configurator.AddAddressAsync(link, IPAddress.Parse("198.18.0.11"), 33))).ParamName);
        Assert.Equal("address", (await Assert.ThrowsAsync<ArgumentException>(() => configurator.AddAddressAsync(link, IPAddress.Parse("fe80::1"), 64))).ParamName);
        Assert.Equal("address", (await Assert.ThrowsAsync<ArgumentException>(() => configurator.AddAddressAsync(link, IPAddress.Parse("224.0.0.1"), 24))).ParamName);
        Assert.Equal("gateway", (await Assert.ThrowsAsync<ArgumentException>(() => configurator.AddDefaultRouteAsync(link, IPAddress.Broadcast))).ParamName);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => configurator.SetMtuAsync(link, 67));
        Assert.Empty(channel.Requests);
    }
}
