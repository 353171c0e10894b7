// The sync port of a real root daemon under streams that never authenticate: large announced frames, idle
// streams, and a file-descriptor limit.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kraken.Net.Sync;
using Xunit.Abstractions;

namespace Kraken.Daemon.Tests.Functional;

[Trait("Category", "Network")]
public sealed class SyncPortExhaustionTests(ITestOutputHelper output)
{
    private const int Announced = 32 << 20;

    [Fact]
    public async Task Streams_announcing_32_MiB_and_500_idle_ones_cost_little_memory_leave_the_api_answering_and_the_idle_ones_are_closed()
    {
        var dir = Directory.CreateTempSubdirectory("kraken-syncport-test-").FullName;
        var daemon = DaemonProcess.Start(dir, "root", TestDaemon.RootId, [], storePath: ":memory:",
            sync: new Dictionary<string, object?> { ["MaxStreams"] = 1000 });
        var sockets = new List<Socket>();
        try
        {
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
            var target = new IPEndPoint(IPAddress.Loopback, daemon.SyncPort);
            var before = Rss(daemon.Pid);
            var peak = before;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    peak = Math.Max(peak, Rss(daemon.Pid));
                    await Task.Delay(100);
                }
            });

            // 500 idle streams from 50 loopback addresses (10 each, under the per-source limit).
            for (var i = 0; i < 500; i++)
            {
                sockets.Add(await Connect(target, IPAddress.Parse($"127.0.1.{(i % 50) + 1}")));
            }

            // 100 streams from 20 addresses, each announcing a 32 MiB frame and pushing 31 MiB of it.
            var chunk = new byte[256 << 10];
            var pushed = new long[100];
            var pushers = Enumerable.Range(0, 100).Select(i => Task.Run(async () =>
            {
                using var s = await Connect(target, IPAddress.Parse($"127.0.2.{(i % 20) + 1}"));
                var header = new byte[FrameHeader.Size];
                new FrameHeader(MessageType.Delta, 0, (UInt128)(i + 1), 1, Announced).Write(header);
                try
                {
                    await s.SendAsync(header);
                    while (pushed[i] < 31L << 20)
                    {
                        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                        pushed[i] += await s.SendAsync(chunk, SocketFlags.None, timeout.Token);
                    }
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                {
                    // Cut off by the daemon (or stalled behind a window it stopped reading): what is wanted.
                }
            })).ToArray();
            await Task.WhenAll(pushers);

            var api = Stopwatch.StartNew();
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            {
                Assert.True((await http.GetAsync(daemon.ApiUrl + "/healthz")).IsSuccessStatusCode, "the API answers with 600 hostile streams on the sync port");
            }

            var apiLatency = api.Elapsed;

            // Every idle stream is closed by the daemon (handshake timeout, 10 s by default), well within 60 s.
            var clock = Stopwatch.StartNew();
            var closed = await Task.WhenAll(sockets.Select(s => ClosedByServer(s, TimeSpan.FromSeconds(60))));
            var closedIn = clock.Elapsed;
            await sampling.CancelAsync();
            await sampler;

            var metrics = await Metrics(daemon.ApiUrl);
            var growth = (peak - before) / (1024.0 * 1024.0);
            output.WriteLine($"RSS before {before / 1048576.0:0} MiB, peak {peak / 1048576.0:0} MiB (+{growth:0} MiB); pushed {pushed.Sum() / 1048576.0:0.0} MiB in all before the cut; /healthz in {apiLatency.TotalMilliseconds:0} ms; {closed.Count(c => c)} of 500 idle streams closed, the last after {closedIn.TotalSeconds:0.0} s");
            output.WriteLine(string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("kraken_sync_streams", StringComparison.Ordinal))));
            Assert.True(closed.All(c => c), $"{closed.Count(c => !c)} idle streams still open after 60 s");
            Assert.True(growth < 400, $"the daemon grew by {growth:0} MiB");
            Assert.True(pushed.Sum() < 100L * (8 << 20), $"the daemon read {pushed.Sum() / 1048576.0:0} MiB of frames it never admitted");
            Assert.Equal(100, MetricValue(metrics, "kraken_sync_streams_closed_total{reason=\"unauthenticated_oversize\"}"));
            Assert.Equal(500, MetricValue(metrics, "kraken_sync_streams_closed_total{reason=\"handshake_timeout\"}"));
            Assert.False(daemon.HasExited);
            Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }

            daemon.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Out_of_file_descriptors_the_accept_loop_backs_off_says_so_and_recovers()
    {
        // 400 descriptors (the runtime needs ~150 to start), and a stream limit set above them on purpose: accepts run out of descriptors.
        var dir = Directory.CreateTempSubdirectory("kraken-syncport-test-").FullName;
        var daemon = DaemonProcess.Start(dir, "root", TestDaemon.RootId, [], storePath: ":memory:",
            sync: new Dictionary<string, object?> { ["MaxStreams"] = 1000, ["MaxStreamsPerSource"] = 1000, ["StreamHandshakeTimeout"] = "00:05:00" },
            prefix: ["prlimit", "--nofile=400:400"]);
        var sockets = new List<Socket>();
        try
        {
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
            var target = new IPEndPoint(IPAddress.Loopback, daemon.SyncPort);
            for (var i = 0; i < 600; i++)
            {
                // The kernel completes handshakes into the backlog whether or not the daemon can accept them.
                sockets.Add(await Connect(target, IPAddress.Parse($"127.0.3.{(i % 200) + 1}")));
            }

            var cpuBefore = CpuTicks(daemon.Pid);
            var wall = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(3));
            var cpuShare = (CpuTicks(daemon.Pid) - cpuBefore) / 100.0 / wall.Elapsed.TotalSeconds;
            var log = daemon.ReadLog();
            output.WriteLine($"daemon CPU while out of descriptors: {cpuShare:P0} of one core");
            Assert.Contains("no file descriptor left", log, StringComparison.Ordinal);
            Assert.True(cpuShare < 0.3, $"the accept loop spins: {cpuShare:P0} of a core");

            // Streams closed, descriptors come back: the API answers and a well-formed stream is accepted again.
            foreach (var s in sockets)
            {
                s.Dispose();
            }

            sockets.Clear();
            var metrics = await Until(async () => await Metrics(daemon.ApiUrl) is { Length: > 0 } m ? m : null, TimeSpan.FromSeconds(30));
            Assert.True(MetricValue(metrics, "kraken_sync_accepts_failed_total{error=\"fd_exhausted\"}") >= 1, metrics);
            Assert.Equal(1, daemon.ReadLog().Split('\n').Count(l => l.Contains("no file descriptor left", StringComparison.Ordinal)));
            Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }

            daemon.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<Socket> Connect(IPEndPoint target, IPAddress from)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(from, 0));
        await s.ConnectAsync(target);
        return s;
    }

    private static async Task<bool> ClosedByServer(Socket s, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[16];
        try
        {
            while (await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
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

    private static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static async Task<string> Metrics(string api)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            return await http.GetStringAsync(api + "/metrics");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return "";
        }
    }

    private static async Task<T> Until<T>(Func<Task<T?>> probe, TimeSpan within)
        where T : class
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "the API did not answer again");
            await Task.Delay(200);
        }
    }

    private static long MetricValue(string metrics, string series)
    {
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : (long)double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }
}
