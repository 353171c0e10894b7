// "kraken watch": follows the daemon's Server-Sent Events and prints one line per event, resuming across reconnects.
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace Kraken.Daemon.Cli;

internal sealed partial class Verbs
{
    private async Task Watch(CancellationToken ct)
    {
        NoMoreThan(1);
        var countText = args.Option("--count");
        var limit = long.MaxValue;
        if (countText is not null && (!long.TryParse(countText, CultureInfo.InvariantCulture, out limit) || limit <= 0))
        {
            throw new CliException($"--count '{countText}' is not a positive number", 2);
        }

        // Server-Sent Events through SseParser. A stream that ends or breaks (the daemon restarts, the connection is
        // cut, this client fell behind) is opened again with Last-Event-ID, so the daemon sends what was missed, or a
        // "reset" when it no longer can; only a daemon unreachable for ReconnectFor ends the watch.
        var path = $"{V1}/events{Query(("--node", "node"), ("--type", "type"), ("--url", "url"), ("--view", "view"))}";
        string? lastId = null;
        long seen = 0;
        var lostSince = (long?)null;
        var delay = TimeSpan.Zero;
        while (true)
        {
            HttpResponseMessage response;
            try
            {
                response = await client.OpenStreamAsync(path, ct, lastId);
            }
            catch (CliException ex) when (lastId is not null && !ct.IsCancellationRequested)
            {
                lostSince ??= TimeProvider.System.GetTimestamp();
                if (TimeProvider.System.GetElapsedTime(lostSince.Value) > ReconnectFor)
                {
                    throw new CliException($"the event stream ended and the daemon did not answer again within {ReconnectFor.TotalSeconds:0} s: {ex.Message}");
                }

                delay = NextDelay(delay);
                await Task.Delay(delay, TimeProvider.System, ct);
                continue;
            }

            lostSince = null;
            var progressed = false;
            using (response)
            {
                var parser = SseParser.Create(await response.Content.ReadAsStreamAsync(ct));
                try
                {
                    await foreach (var item in parser.EnumerateAsync(ct))
                    {
                        progressed = true;
                        if (item.EventType == "overflow")
                        {
                            // Cut off for falling behind: resume from the last event taken.
                            break;
                        }

                        await stdout.WriteLineAsync(json ? item.Data : item.EventType == "reset" ? DescribeReset(item.Data) : Describe(item.Data));
                        await stdout.FlushAsync(ct);
                        if (item.EventType != "reset" && ++seen >= limit)
                        {
                            return;
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException && !ct.IsCancellationRequested)
                {
                    // The connection broke: open it again below.
                }

                // Also set by the opening comment's id, before any event.
                lastId = string.IsNullOrEmpty(parser.LastEventId) ? lastId : parser.LastEventId;
            }

            ct.ThrowIfCancellationRequested();
            if (lastId is null)
            {
                throw new CliException("the daemon closed the event stream before it began");
            }

            // A stream that gave nothing is not retried in a tight loop.
            delay = progressed ? TimeSpan.Zero : NextDelay(delay);
            await Task.Delay(delay, TimeProvider.System, ct);
        }
    }

    private static TimeSpan NextDelay(TimeSpan delay) =>
        delay == TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxReconnectDelay.Ticks));

    /// <summary>How long <c>kraken watch</c> keeps trying to reopen an event stream that ended.</summary>
    private static readonly TimeSpan ReconnectFor = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(5);

    private static string DescribeReset(string data)
    {
        using var doc = JsonDocument.Parse(data);
        return $"reset: cannot resume after {Str(doc.RootElement, "lastEventId")} ({Str(doc.RootElement, "reason")}); events may have been missed, re-read the state";
    }

    private static string Describe(string data)
    {
        using var doc = JsonDocument.Parse(data);
        var e = doc.RootElement;
        return Str(e, "type") == "mutation"
            ? $"mutation {Str(e, "kind")} {Str(e, "node")} {Str(e, "mutation")} ({Str(e, "module")}){(e.TryGetProperty("reason", out var r) ? ": " + r.GetString() : string.Empty)}"
            : e.TryGetProperty("url", out _)
                ? $"{Str(e, "view")} {Str(e, "node")} {Str(e, "url")} {Str(e, "old")} -> {Str(e, "new")} (v{Str(e, "version")})"
                : $"{Str(e, "view")} {Str(e, "node")} {Str(e, "kind")} (v{Str(e, "version")})";
    }
}
