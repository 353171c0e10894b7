// "kraken watch": follows the daemon's Server-Sent Events and prints one line per event.
using System.Globalization;
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

        using var response = await client.OpenStreamAsync($"{V1}/events{Query(("--node", "node"), ("--type", "type"), ("--url", "url"), ("--view", "view"))}", ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? type = null;
        long seen = 0;
        while (seen < limit && await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = line[6..];
                if (type == "overflow")
                {
                    throw new CliException("the event stream overflowed (this client fell behind); state may have changed unseen");
                }

                await stdout.WriteLineAsync(json ? data : Describe(data));
                await stdout.FlushAsync(ct);
                seen++;
            }
        }

        if (seen < limit && !ct.IsCancellationRequested)
        {
            throw new CliException("the daemon closed the event stream (it is shutting down)");
        }
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
