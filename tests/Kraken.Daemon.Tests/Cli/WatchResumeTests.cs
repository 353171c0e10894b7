// "kraken watch" across broken streams: it reconnects with Last-Event-ID, resumes without a gap or a repeat when
// the daemon still holds the events, and reports a reset when it does not (a restarted daemon).
using System.Text.Json;
using Kraken.Daemon.Cli;
using Kraken.Daemon.Events;
using Kraken.Daemon.Tests.Api;
using Kraken.Tree.State;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests.Cli;

[Trait("Category", "Network")]
public sealed class WatchResumeTests
{
    [Fact]
    public async Task A_watch_cut_off_for_falling_behind_resumes_and_misses_nothing()
    {
        // A 16-event buffer, and 300 changes in one transaction: the stream is cut off with an overflow at once.
        await using var d = await TestDaemon.StartRootAsync(extra: ["--Reconcile:StartFrozen=true", "--Api:EventBuffer=16"]);
        var hub = d.Services.GetRequiredService<EventHub>();
        const int count = 300;
        var output = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watching = CommandLine.RunAsync(["watch", "--node", TestDaemon.N101, "--view", "dsc", "--url", "/Nodename", "--count", $"{count}", "--json", "--server", d.Url], output, TextWriter.Null, stop.Token);
        await ApiTests.Until(() => hub.ClientCount == 1, "the watch subscribed");

        var id = NodeId.Parse(TestDaemon.N101, null);
        d.Daemon.Store.Batch(s =>
        {
            for (var i = 0; i < count; i++)
            {
                s.Set(StateView.Dsc, id, "/Nodename", $"n{i}");
            }
        });

        Assert.Equal(0, await watching.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(hub.DroppedOverflow >= 1, "the watch was never cut off, so nothing was resumed");
        var seen = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("new").GetString()).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"n{i}"), seen);
    }

    [Fact]
    public async Task A_watch_follows_a_daemon_that_restarts_and_reports_the_reset()
    {
        var directory = Directory.CreateTempSubdirectory("kraken-watch-test-").FullName;
        try
        {
            await using var first = await TestDaemon.StartRootAsync(directory, extra: "--Reconcile:StartFrozen=true");
            var url = first.Url;
            var output = new SyncWriter();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var watching = CommandLine.RunAsync(["watch", "--node", TestDaemon.N101, "--view", "cfg", "--url", "/Arch", "--count", "2", "--json", "--server", url], output, TextWriter.Null, stop.Token);
            await ApiTests.Until(() => first.Services.GetRequiredService<EventHub>().ClientCount == 1, "the watch subscribed");
            await first.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}", new StringContent("""{"/Arch": "before"}""", System.Text.Encoding.UTF8, "application/json"));
            await ApiTests.Until(() => output.Lines.Count == 1, "the first event printed");
            await first.StopAsync();

            // The same address and store, a new run: the watch comes back by itself.
            await using var second = await TestDaemon.StartRootAsync(directory, import: false, extra: ["--Reconcile:StartFrozen=true", $"--Api:Url={url}"]);
            await ApiTests.Until(() => second.Services.GetRequiredService<EventHub>().ClientCount == 1, "the watch reconnected", seconds: 30);
            await second.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}", new StringContent("""{"/Arch": "after"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(0, await watching.WaitAsync(TimeSpan.FromSeconds(30)));

            var lines = output.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(3, lines.Count);
            Assert.Equal("before", lines[0].GetProperty("new").GetString());
            Assert.Equal("reset", lines[1].GetProperty("type").GetString());
            Assert.Contains("another run", lines[1].GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal("after", lines[2].GetProperty("new").GetString());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A writer the test can read while the watch writes to it.</summary>
    private sealed class SyncWriter : StringWriter
    {
        private readonly Lock _lock = new();

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lock)
                {
                    return ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                }
            }
        }

        public override void Write(char value)
        {
            lock (_lock)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_lock)
            {
                base.Write(value);
            }
        }

        public override Task WriteLineAsync(string? value)
        {
            lock (_lock)
            {
                base.WriteLine(value);
            }

            return Task.CompletedTask;
        }
    }
}
