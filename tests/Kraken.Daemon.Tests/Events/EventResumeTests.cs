// SSE ids and Last-Event-ID: a reconnecting client gets exactly the events it missed, or a reset when it cannot.
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Kraken.Daemon.Events;
using Kraken.Daemon.Tests.Api;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests.Events;

[Trait("Category", "Network")]
public sealed class EventResumeTests
{
    private static readonly string Filter = $"/api/v1/events?node={TestDaemon.N101}&view=cfg&url=/Arch";

    [Fact]
    public async Task A_reconnect_with_last_event_id_gets_exactly_the_missed_events_in_order()
    {
        await using var d = await TestDaemon.StartRootAsync(extra: "--Reconcile:StartFrozen=true");
        string position;
        string secondId;
        using (var stream = await Sse.OpenAsync(d, Filter))
        {
            var opening = await stream.NextAsync();
            Assert.Equal(": subscribed", opening.Comment);
            position = opening.Id!;
            Assert.Equal(d.Services.GetRequiredService<EventHub>().LastEventId, position);

            await SetArch(d, "a1");
            await SetArch(d, "a2");
            var first = await stream.NextAsync();
            var second = await stream.NextAsync();
            Assert.Equal(("state", "a1"), (first.Type, New(first)));
            Assert.Equal(("state", "a2"), (second.Type, New(second)));
            Assert.True(Seq(first) > Seq(position) && Seq(second) == Seq(first) + 1, $"{position} {first.Id} {second.Id}");
            secondId = second.Id!;
        }

        // Missed while away: three of ours and changes the filter leaves out.
        await ApiTests.Until(() => d.Services.GetRequiredService<EventHub>().ClientCount == 0, "the first stream ended");
        await SetArch(d, "a3");
        await d.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.T1a}", Json("""{"/Arch": "other"}"""));
        await SetArch(d, "a4");
        await d.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}", Json("""{"/Platform": "vm"}"""));
        await SetArch(d, "a5");

        using (var stream = await Sse.OpenAsync(d, Filter, secondId))
        {
            // A resumed client keeps its id until a replayed event replaces it: the opening carries none.
            var opening = await stream.NextAsync();
            Assert.Equal(": subscribed", opening.Comment);
            Assert.Null(opening.Id);
            var replayed = new[] { await stream.NextAsync(), await stream.NextAsync(), await stream.NextAsync() };
            Assert.Equal(["a3", "a4", "a5"], replayed.Select(New));
            Assert.True(replayed.Zip(replayed.Skip(1)).All(p => Seq(p.Second) > Seq(p.First)) && Seq(replayed[0]) > Seq(secondId));

            // Then live, without a gap or a repeat.
            await SetArch(d, "a6");
            var live = await stream.NextAsync();
            Assert.Equal("a6", New(live));
            Assert.True(Seq(live) > Seq(replayed[2]));
        }

        // Resuming from the newest id replays nothing: the next event is the next change.
        using (var stream = await Sse.OpenAsync(d, Filter, d.Services.GetRequiredService<EventHub>().LastEventId))
        {
            await stream.NextAsync();
            await SetArch(d, "a7");
            Assert.Equal("a7", New(await stream.NextAsync()));
        }
    }

    [Fact]
    public async Task An_id_older_than_the_replay_buffer_or_from_another_run_gets_a_reset()
    {
        await using var d = await TestDaemon.StartRootAsync(extra: ["--Reconcile:StartFrozen=true", "--Api:EventReplay=4"]);
        var hub = d.Services.GetRequiredService<EventHub>();
        var position = hub.LastEventId;
        for (var i = 0; i < 6; i++)
        {
            await SetArch(d, $"g{i}");
        }

        using (var stream = await Sse.OpenAsync(d, Filter, position))
        {
            await stream.NextAsync();
            var reset = await stream.NextAsync();
            Assert.Equal("reset", reset.Type);
            var data = JsonDocument.Parse(reset.Data!).RootElement;
            Assert.Equal(position, data.GetProperty("lastEventId").GetString());
            Assert.Contains("Api:EventReplay", data.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(hub.LastEventId, reset.Id);
            Assert.Equal(reset.Id, data.GetProperty("resumeFrom").GetString());

            // The stream goes on live after the reset.
            await SetArch(d, "after");
            Assert.Equal("after", New(await stream.NextAsync()));
        }

        // Within the buffer: resumed, no reset.
        var recent = hub.LastEventId;
        await SetArch(d, "in-buffer");
        using (var stream = await Sse.OpenAsync(d, Filter, recent))
        {
            await stream.NextAsync();
            Assert.Equal("in-buffer", New(await stream.NextAsync()));
        }

        foreach (var other in new[] { "0badc0de-1", "garbage", $"{hub.LastEventId.Split('-')[0]}-999999" })
        {
            using var stream = await Sse.OpenAsync(d, Filter, other);
            await stream.NextAsync();
            var reset = await stream.NextAsync();
            Assert.Equal("reset", reset.Type);
            Assert.Equal(other, JsonDocument.Parse(reset.Data!).RootElement.GetProperty("lastEventId").GetString());
        }
    }

    private static Task SetArch(TestDaemon d, string arch) =>
        d.Authorized.PatchAsync($"/api/v1/cfg/nodes/{TestDaemon.N101}", Json($$"""{"/Arch": "{{arch}}"}"""));

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string? New(Sse.Block b) => JsonDocument.Parse(b.Data!).RootElement.GetProperty("new").GetString();

    private static ulong Seq(Sse.Block b) => Seq(b.Id!);

    private static ulong Seq(string id) => ulong.Parse(id[(id.LastIndexOf('-') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads the wire format by hand (independently of the client's parser): blocks of fields ended by a blank line.</summary>
    internal sealed class Sse : IDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

        private Sse(HttpResponseMessage response, StreamReader reader)
        {
            _response = response;
            _reader = reader;
        }

        public static async Task<Sse> OpenAsync(TestDaemon d, string path, string? lastEventId = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            if (lastEventId is not null)
            {
                request.Headers.Add("Last-Event-ID", lastEventId);
            }

            var response = await d.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            return new Sse(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
        }

        public async Task<Block> NextAsync()
        {
            var block = new Block();
            while (await _reader.ReadLineAsync(_timeout.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    return block;
                }

                if (line[0] == ':')
                {
                    block.Comment = line;
                    continue;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var (field, value) = (line[..colon], line[(colon + 1)..].TrimStart(' '));
                _ = field switch
                {
                    "event" => block.Type = value,
                    "data" => block.Data = value,
                    "id" => block.Id = value,
                    _ => throw new InvalidOperationException($"unexpected field in '{line}'"),
                };
            }

            throw new EndOfStreamException("the stream ended");
        }

        public void Dispose()
        {
            _reader.Dispose();
            _response.Dispose();
            _timeout.Dispose();
        }

        internal sealed class Block
        {
            public string? Comment { get; set; }

            public string? Type { get; set; }

            public string? Data { get; set; }

            public string? Id { get; set; }
        }
    }
}
