// Peers named by host name: parsed as HostEndPoint, resolved by the transport on every connect.
using System.Net;
using System.Net.Sockets;
using Kraken.Net.Transport;

namespace Kraken.Net.Tests.Transport;

public sealed partial class SocketTransportTests
{
    [Theory]
    [InlineData("198.18.0.1:31415", 0, "198.18.0.1:31415", false)]
    [InlineData("[::1]:31415", 0, "[::1]:31415", false)]
    [InlineData("198.18.0.1", 31415, "198.18.0.1:31415", false)]
    [InlineData("parent-1.cluster:4000", 0, "parent-1.cluster:4000", true)]
    [InlineData("localhost:31415", 0, "localhost:31415", true)]
    [InlineData("t1a", 31415, "t1a:31415", true)]
    public void Addresses_and_host_names_parse(string text, int defaultPort, string expected, bool host)
    {
        Assert.True(HostEndPoint.TryParse(text, defaultPort, out var endPoint));
        Assert.Equal(expected, endPoint!.ToString());
        Assert.Equal(host, endPoint is HostEndPoint);
    }

    [Theory]
    [InlineData("", 31415)]
    [InlineData("t1a", 0)]
    [InlineData("t1a:", 0)]
    [InlineData("t1a:99999", 0)]
    [InlineData("t1a:0", 0)]
    [InlineData("bad host:31415", 0)]
    [InlineData("under/score:31415", 0)]
    public void Anything_else_does_not(string text, int defaultPort) => Assert.False(HostEndPoint.TryParse(text, defaultPort, out _));

    [Fact]
    public async Task A_host_name_is_resolved_again_on_every_connect()
    {
        // Two listeners on one port of two loopback addresses; the name moves from the first to the second.
        await using var first = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)first.LocalEndPoint).Port;
        await using var second = new SocketTransport(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port));
        var (r1, r2) = (new Recorder(), new Recorder());
        first.Start(r1);
        second.Start(r2);
        var answers = new Queue<IPAddress[]>([[IPAddress.Loopback], [IPAddress.IPv6Loopback, IPAddress.Parse("127.0.0.2")]]);
        var asked = new List<string>();
        await using var client = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0))
        {
            Resolve = (host, _) =>
            {
                lock (asked)
                {
                    asked.Add(host);
                    return Task.FromResult(answers.Dequeue());
                }
            },
        };
        var rc = new Recorder();
        client.Start(rc);
        var parent = new HostEndPoint("parent.cluster", port);

        var one = client.Connect(parent, null);
        await Until(() => r1.Count(r => r.Connected.Count) == 1, "the first address accepted");
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), one.RemoteEndPoint);

        // An IPv6 answer is skipped by an IPv4 transport: the next IPv4 address is the one it reaches.
        var two = client.Connect(parent, null);
        await Until(() => r2.Count(r => r.Connected.Count) == 1, "the second address accepted");
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port), two.RemoteEndPoint);
        Assert.Equal(["parent.cluster", "parent.cluster"], asked);
        Assert.Equal(1, r1.Count(r => r.Connected.Count));
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_closes_that_connection_with_the_error()
    {
        await using var client = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0))
        {
            Resolve = (_, _) => Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)),
        };
        var rc = new Recorder();
        client.Start(rc);

        var conn = client.Connect(new HostEndPoint("nowhere.invalid", 31415), "join");
        await Until(() => rc.Count(r => r.Closed.Count) == 1, "the failed connection reported");
        Assert.Equal(SocketError.HostNotFound, Assert.IsType<SocketException>(rc.Closed[0]).SocketErrorCode);
        Assert.Empty(rc.Connected);
        Assert.Equal(new HostEndPoint("nowhere.invalid", 31415), conn.RemoteEndPoint);

        // Only IPv6 addresses for an IPv4 transport: the same, naming the host.
        await using var v4 = new SocketTransport(new IPEndPoint(IPAddress.Loopback, 0)) { Resolve = (_, _) => Task.FromResult(new[] { IPAddress.IPv6Loopback }) };
        var r4 = new Recorder();
        v4.Start(r4);
        v4.Connect(new HostEndPoint("six.only", 31415), null);
        await Until(() => r4.Count(r => r.Closed.Count) == 1, "the failed connection reported");
        Assert.Contains("six.only has no IPv4 address", r4.Closed[0]!.Message, StringComparison.Ordinal);
    }
}
