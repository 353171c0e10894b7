// "kraken power ...": bulk power actions with their summary, live power status, and the operations a daemon ran.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;

namespace Kraken.Daemon.Cli;

internal sealed partial class Verbs
{
    private static readonly string[] s_powerActions = ["on", "off", "cycle", "reset", "soft"];

    /// <summary>The bulk power actions, each a verb (<c>kraken power on</c>).</summary>
    internal static IReadOnlyList<string> PowerActions => s_powerActions;

    private Task Power(CancellationToken ct) => (P.Count > 1 ? P[1] : string.Empty) switch
    {
        "status" => PowerStatus(ct),
        "ops" => PowerOps(ct),
        var a when s_powerActions.Contains(a) => PowerAction(a, ct),
        var a => throw new CliException($"'power {a}' is not a verb; use power {string.Join('|', s_powerActions)}, power status or power ops", 2),
    };

    private async Task PowerAction(string action, CancellationToken ct)
    {
        var ids = await PowerIds(ct);
        var parts = new List<string> { $"\"select\":{SelectionJson(ids)}" };
        if (args.Flag("--all"))
        {
            parts.Add("\"all\":true");
        }

        if (args.Flag("--no-cfg") || args.Flag("--set-cfg"))
        {
            parts.Add(args.Flag("--no-cfg") ? "\"setCfg\":false" : "\"setCfg\":true");
        }

        if (args.Duration("--call-timeout") is { } timeout)
        {
            parts.Add($"\"callTimeout\":{CommandLine.Seconds(timeout)}");
        }

        if (args.Option("--retries") is { } retries)
        {
            parts.Add($"\"retries\":{PositiveNumber(retries, "--retries", allowZero: true)}");
        }

        var started = await client.SendJsonAsync(HttpMethod.Post, $"{V1}/power/{action}", "{" + string.Join(',', parts) + "}", ct);
        if (!args.Flag("--wait"))
        {
            if (json)
            {
                await stdout.WriteLineAsync(started);
                return;
            }

            using var doc = JsonDocument.Parse(started);
            var id = Str(doc.RootElement, "id");
            await stdout.WriteLineAsync($"power {action}: {doc.RootElement.GetProperty("requested").GetInt32()} node(s), operation {id} (follow with: kraken power ops {id})");
            return;
        }

        string location;
        using (var doc = JsonDocument.Parse(started))
        {
            location = Str(doc.RootElement, "location");
        }

        while (true)
        {
            var body = await client.GetAsync(location, ct);
            using var doc = JsonDocument.Parse(body);
            if (Str(doc.RootElement, "state") != "running")
            {
                await PrintOperation(body, doc.RootElement);
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
        }
    }

    private async Task PowerStatus(CancellationToken ct)
    {
        var ids = await PowerIds(ct);
        var query = new List<string>();
        query.AddRange(ids.Select(i => $"id={Uri.EscapeDataString(i)}"));
        query.AddRange(args.Options("--filter").Select(f => $"where={Uri.EscapeDataString(f)}"));
        if (args.Option("--under") is { } under)
        {
            query.Add($"under={Uri.EscapeDataString(under)}");
        }

        if (args.Flag("--all"))
        {
            query.Add("all=true");
        }

        var body = await client.GetAsync($"{V1}/power/status{(query.Count > 0 ? "?" + string.Join('&', query) : string.Empty)}", ct);
        using var doc = JsonDocument.Parse(body);
        var r = doc.RootElement;
        if (json)
        {
            await stdout.WriteLineAsync(body);
        }
        else
        {
            var rows = r.GetProperty("results").EnumerateArray()
                .Select(n => new[] { Str(n, "node"), Str(n, "name"), Str(n, "status"), Str(n, "dsc"), Str(n, "outcome"), Str(n, "reason") })
                .ToList();
            await Table.WriteAsync(stdout, ["NODE", "NAME", "STATUS", "DSC", "OUTCOME", "REASON"], rows);
        }

        var bad = r.GetProperty("failed").GetInt32() + r.GetProperty("timedOut").GetInt32();
        if (bad > 0)
        {
            throw new CliException($"the power state of {bad} of {r.GetProperty("requested").GetInt32()} node(s) could not be read");
        }
    }

    private async Task PowerOps(CancellationToken ct)
    {
        NoMoreThan(3);
        if (P.Count == 3)
        {
            var one = await client.GetAsync($"{V1}/power/operations/{Uri.EscapeDataString(P[2])}", ct);
            using var doc = JsonDocument.Parse(one);
            await PrintOperation(one, doc.RootElement);
            return;
        }

        var body = await client.GetAsync($"{V1}/power/operations", ct);
        if (json)
        {
            await stdout.WriteLineAsync(body);
            return;
        }

        using var list = JsonDocument.Parse(body);
        var rows = list.RootElement.GetProperty("operations").EnumerateArray()
            .Select(o => new[] { Str(o, "id"), Str(o, "action"), Str(o, "state"), Str(o, "requested"), Str(o, "done"), Str(o, "ok"), Str(o, "failed"), Str(o, "timedOut"), Str(o, "started") })
            .ToList();
        await Table.WriteAsync(stdout, ["ID", "ACTION", "STATE", "NODES", "DONE", "OK", "FAILED", "TIMEDOUT", "STARTED"], rows);
    }

    /// <summary>An operation's summary: counts, reasons, and the nodes that did not succeed (all with --nodes); exit 1 when any failed.</summary>
    private async Task PrintOperation(string body, JsonElement op)
    {
        var failed = op.GetProperty("failed").GetInt32();
        var timedOut = op.GetProperty("timedOut").GetInt32();
        var requested = op.GetProperty("requested").GetInt32();
        if (json)
        {
            await stdout.WriteLineAsync(body);
        }
        else
        {
            var seconds = op.GetProperty("elapsedSeconds").GetDouble().ToString("0.###", CultureInfo.InvariantCulture);
            await stdout.WriteLineAsync($"power {Str(op, "action")} {Str(op, "id")}: {Str(op, "state")}, {requested} node(s): {op.GetProperty("ok").GetInt32()} ok, {failed} failed, {timedOut} timed out, {op.GetProperty("pending").GetInt32()} pending in {seconds} s");
            var reasons = op.GetProperty("failureReasons").EnumerateArray().Select(x => new[] { Str(x, "count"), Str(x, "reason") }).ToList();
            if (reasons.Count > 0)
            {
                await Table.WriteAsync(stdout, ["COUNT", "REASON"], reasons);
            }

            if (op.TryGetProperty("results", out var results))
            {
                var all = args.Flag("--nodes");
                var rows = results.EnumerateArray()
                    .Where(n => all || Str(n, "outcome") != "ok")
                    .Select(n => new[] { Str(n, "node"), Str(n, "name"), Str(n, "outcome"), Str(n, "status"), Str(n, "calls"), Str(n, "reason") })
                    .ToList();
                if (rows.Count > 0)
                {
                    await Table.WriteAsync(stdout, ["NODE", "NAME", "OUTCOME", "STATUS", "CALLS", "REASON"], rows);
                }
            }
        }

        if (failed + timedOut > 0)
        {
            throw new CliException($"power {Str(op, "action")}: {failed} of {requested} node(s) failed and {timedOut} timed out (operation {Str(op, "id")})");
        }
    }

    /// <summary>Node ids from the positional arguments (ids or node names) and --id.</summary>
    private async Task<List<string>> PowerIds(CancellationToken ct)
    {
        var ids = new List<string>(args.Options("--id"));
        foreach (var a in P.Skip(2))
        {
            if (NodeId.TryParse(a, out _))
            {
                ids.Add(a);
                continue;
            }

            var body = await client.GetAsync($"{V1}/cfg/nodes?where={Uri.EscapeDataString("/Nodename=" + a)}", ct);
            using var doc = JsonDocument.Parse(body);
            var found = doc.RootElement.GetProperty("nodes").EnumerateArray().Select(n => Str(n, "id")).ToList();
            ids.AddRange(found.Count > 0 ? found : throw new CliException($"no node is named '{a}' (give a node id or a Cfg /Nodename)"));
        }

        return ids;
    }

    private string SelectionJson(IReadOnlyList<string> ids)
    {
        var parts = new List<string>();
        if (ids.Count > 0)
        {
            parts.Add($"\"ids\":[{string.Join(',', ids.Select(i => DaemonJsonContext.Quote(i)))}]");
        }

        if (args.Option("--under") is { } under)
        {
            parts.Add($"\"under\":{DaemonJsonContext.Quote(under)}");
        }

        if (args.Options("--filter").Count > 0)
        {
            parts.Add($"\"where\":{ValuesObject(args.Options("--filter"))}");
        }

        return new StringBuilder("{").Append(string.Join(',', parts)).Append('}').ToString();
    }

    private static string PositiveNumber(string text, string option, bool allowZero = false) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && (v > 0 || (allowZero && v == 0))
            ? v.ToString(CultureInfo.InvariantCulture)
            : throw new CliException($"{option} '{text}' is not a {(allowZero ? "non-negative" : "positive")} number", 2);
}
