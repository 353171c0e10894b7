// The HTTP boot server's connection limits (per client address and in total) and its idle and header timeouts,
// on loopback addresses, with curl as the client that should still be served.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kraken.Modules.Pxe.Http;
using Kraken.Modules.Tests.Interop;

namespace Kraken.Modules.Tests.Pxe.Boot;

[Trait("Category", "Interop")]
public sealed class HttpBootLimitsTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("kraken-httplimits-").FullName;
    private readonly List<Socket> _sockets = [];
    private HttpBootServer? _server;

    private HttpBootServer Server => _server!;

    public Task InitializeAsync() => File.WriteAllBytesAsync(Path.Combine(_root, "vmlinuz"), new byte[10_000]);

    public async Task DisposeAsync()
    {
        foreach (var s in _sockets)
        {
            s.Dispose();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Connections_beyond_the_cap_per_address_are_closed_at_once_and_other_addresses_are_served()
    {
        await Start(o => o.MaxConnectionsPerClient = 2);
        var held = new[] { await Connect("127.0.0.1"), await Connect("127.0.0.1") };
        await Eventually(() => Server.Counters.Connections == 2);
        var third = await Connect("127.0.0.1");
        Assert.True(await ClosedWithin(third, TimeSpan.FromSeconds(5)), "the third connection from one address stayed open");
        Assert.Equal(1, Server.Counters.ConnectionsRefusedClient);

        // Another address is served, and the held connections still work.
        Assert.Equal("200", Curl("127.0.0.3"));
        await held[0].SendAsync(Encoding.ASCII.GetBytes("HEAD /vmlinuz HTTP/1.1\r\nHost: x\r\n\r\n"));
        var buffer = new byte[1000];
        var n = await held[0].ReceiveAsync(buffer);
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);

        // One closes: its address may connect again.
        held[1].Dispose();
        await Eventually(() => Server.Counters.Connections == 1);
        Assert.Equal("200", Curl("127.0.0.1"));
        Assert.Equal(1, Server.Counters.ConnectionsRefusedClient);
    }

    [Fact]
    public async Task Connections_beyond_the_total_cap_are_closed_at_once()
    {
        await Start(o => o.MaxConnections = 3);
        foreach (var a in new[] { "127.0.0.11", "127.0.0.12", "127.0.0.13" })
        {
            await Connect(a);
        }

        await Eventually(() => Server.Counters.Connections == 3);
        Assert.True(await ClosedWithin(await Connect("127.0.0.14"), TimeSpan.FromSeconds(5)));
        Assert.Equal(1, Server.Counters.ConnectionsRefusedTotal);
        Assert.Equal(0, Server.Counters.ConnectionsRefusedClient);
    }

    [Fact]
    public async Task An_idle_connection_and_one_sending_its_headers_slowly_are_closed_by_their_timeouts()
    {
        await Start(o =>
        {
            o.KeepAliveTimeout = TimeSpan.FromSeconds(2);
            o.RequestHeadersTimeout = TimeSpan.FromSeconds(2);
        });
        var idle = await Connect("127.0.0.1");
        var slow = await Connect("127.0.0.1");
        var started = DateTime.UtcNow;
        var trickle = Task.Run(async () =>
        {
            // A slowloris: one header byte every 300 ms, never the blank line.
            var header = Encoding.ASCII.GetBytes("GET /vmlinuz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
            foreach (var b in header)
            {
                try
                {
                    await slow.SendAsync(new[] { b });
                }
                catch (SocketException)
                {
                    return;
                }

                await Task.Delay(300);
            }
        });
        Assert.True(await ClosedWithin(idle, TimeSpan.FromSeconds(8)), "an idle connection stayed open");
        Assert.True(await ClosedWithin(slow, TimeSpan.FromSeconds(8)), "a connection trickling its headers stayed open");
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(1.5), "closed before the timeouts");
        await trickle;
        await Eventually(() => Server.Counters.Connections == 0);
    }

    [Fact]
    public async Task Oversized_headers_are_refused()
    {
        await Start(o => o.MaxRequestHeadersSize = 2048);
        var (exit, output) = ExternalTool.Run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: " + new string('a', 4000), Server.BaseUri + "vmlinuz"]);
        Assert.Equal(0, exit);
        Assert.Equal("431", output[^3..]);
        Assert.Equal("200", Curl("127.0.0.1"));
    }

    [Fact]
    public void Bad_limits_name_the_option()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new HttpBootServer(new HttpBootOptions { Root = _root, MaxConnectionsPerClient = 0 }, null));
        Assert.Equal(nameof(HttpBootOptions.MaxConnectionsPerClient), e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new HttpBootServer(new HttpBootOptions { Root = _root, KeepAliveTimeout = TimeSpan.Zero }, null));
        Assert.Equal(nameof(HttpBootOptions.KeepAliveTimeout), e.ParamName);
    }

    private async Task Start(Action<HttpBootOptions> configure)
    {
        var options = new HttpBootOptions { Endpoint = new IPEndPoint(IPAddress.Loopback, 0), Root = _root };
        configure(options);
        _server = new HttpBootServer(options, null);
        await _server.StartAsync(CancellationToken.None);
    }

    private async Task<Socket> Connect(string from)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(s);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Server.LocalEndPoint.Port));
        return s;
    }

    private string Curl(string from)
    {
        var (exit, output) = ExternalTool.Run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--interface", from, $"http://127.0.0.1:{Server.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture)}/vmlinuz"]);
        return exit == 0 ? output[^3..] : $"curl failed ({exit}): {output}";
    }

    // True when the server closed the connection (end of stream or reset) within the time; whatever it sent first
    // (a 408) is read past.
    private static async Task<bool> ClosedWithin(Socket socket, TimeSpan time)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(time);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 250 && !condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }
}
