// The client verbs: each builds one API call and prints a table for people or the JSON for scripts.
using System.Text;
using System.Text.Json;
using Kraken.Daemon.Hosting;

namespace Kraken.Daemon.Cli;

internal sealed partial class Verbs(ApiClient client, Arguments args, TextWriter stdout, bool json)
{
    private const string V1 = "/api/v1";

    private IReadOnlyList<string> P => args.Positional;

    public Task RunAsync(CancellationToken ct) => (P.Count > 0 ? P[0] : string.Empty, P.Count > 1 ? P[1] : string.Empty) switch
    {
        ("nodes", "list") => NodesList(ct),
        ("node", "get") => NodeGet(ct),
        ("node", "set") => NodeSet(ct),
        ("node", "delete") => NodeDelete(ct),
        ("bulk", "set") => BulkSet(ct),
        ("import", _) => Import(ct),
        ("export", _) => Export(ct),
        ("graph", _) => Graph(ct),
        ("plan", _) => Plan(ct),
        ("freeze", _) => Freeze(true, ct),
        ("thaw", _) => Freeze(false, ct),
        ("tree", _) => Tree(ct),
        ("watch", _) => Watch(ct),
        ("power", _) => Power(ct),
        ("nodes" or "node" or "bulk", _) => throw new CliException($"'{P[0]} {(P.Count > 1 ? P[1] : string.Empty)}' is not a verb", 2),
        _ when P.Count == 0 => throw new CliException("missing a verb (options alone, such as --json, run nothing)", 2),
        _ => throw new CliException($"unknown verb '{P[0]}'", 2),
    };

    private string Arg(int index, string what) =>
        index < P.Count ? P[index] : throw new CliException($"missing {what}", 2);

    private void NoMoreThan(int count)
    {
        if (P.Count > count)
        {
            throw new CliException($"unexpected argument '{P[count]}'", 2);
        }
    }

    private async Task NodesList(CancellationToken ct)
    {
        NoMoreThan(2);
        var view = args.Flag("--dsc") ? "dsc" : "cfg";
        var body = await client.GetAsync($"{V1}/{view}/nodes{Query(("--filter", "where"), ("--id", "id"), ("--under", "under"))}", ct);
        if (json)
        {
            await stdout.WriteLineAsync(body);
            return;
        }

        using var doc = JsonDocument.Parse(body);
        (string Header, string Field)[] columns =
        [
            ("ID", "id"), ("NAME", "nodename"), ("PARENT", "parentId"), ("RUNSTATE", "runState"), ("PHYSSTATE", "physState"),
            .. args.Option("--output") == "wide" ? [("ARCH", "arch"), ("PLATFORM", "platform")] : Array.Empty<(string, string)>(),
        ];
        var rows = doc.RootElement.GetProperty("nodes").EnumerateArray()
            .Select(n => columns.Select(c => Str(n, c.Field)).ToArray())
            .ToList();
        await Table.WriteAsync(stdout, [.. columns.Select(c => c.Header)], rows);
    }

    private async Task NodeGet(CancellationToken ct)
    {
        var id = Arg(2, "node id");
        NoMoreThan(3);
        if (json)
        {
            await stdout.WriteLineAsync(await client.GetAsync($"{V1}/{(args.Flag("--dsc") ? "dsc" : "cfg")}/nodes/{Uri.EscapeDataString(id)}", ct));
            return;
        }

        var cfg = await client.GetAsync($"{V1}/cfg/nodes/{Uri.EscapeDataString(id)}/values", ct);
        var dsc = await client.GetAsync($"{V1}/dsc/nodes/{Uri.EscapeDataString(id)}/values", ct);
        var c = Flatten(cfg);
        var d = Flatten(dsc);
        var rows = c.Keys.Union(d.Keys).Order(StringComparer.Ordinal)
            .Select(u => new[] { u, c.GetValueOrDefault(u, "-"), d.GetValueOrDefault(u, "-") })
            .ToList();
        await Table.WriteAsync(stdout, ["URL", "CFG", "DSC"], rows);
    }

    private async Task NodeSet(CancellationToken ct)
    {
        var id = Arg(2, "node id");
        if (P.Count < 4)
        {
            throw new CliException("missing URL=VALUE", 2);
        }

        var body = ValuesObject(P.Skip(3));
        var result = await client.SendJsonAsync(HttpMethod.Patch, $"{V1}/cfg/nodes/{Uri.EscapeDataString(id)}", body, ct);
        await stdout.WriteLineAsync(json ? result : $"set {P.Count - 3} value(s) on {id}");
    }

    private async Task NodeDelete(CancellationToken ct)
    {
        var id = Arg(2, "node id");
        NoMoreThan(3);
        await client.SendAsync(HttpMethod.Delete, $"{V1}/cfg/nodes/{Uri.EscapeDataString(id)}", null, null, ct);
        await stdout.WriteLineAsync(json ? "{\"deleted\":true}" : $"deleted {id}");
    }

    private async Task BulkSet(CancellationToken ct)
    {
        if (P.Count < 3)
        {
            throw new CliException("missing URL=VALUE", 2);
        }

        var sb = new StringBuilder("{\"select\":{");
        var parts = new List<string>();
        if (args.Options("--id").Count > 0)
        {
            parts.Add($"\"ids\":[{string.Join(',', args.Options("--id").Select(i => DaemonJsonContext.Quote(i)))}]");
        }

        if (args.Option("--under") is { } under)
        {
            parts.Add($"\"under\":{DaemonJsonContext.Quote(under)}");
        }

        if (args.Options("--filter").Count > 0)
        {
            parts.Add($"\"where\":{ValuesObject(args.Options("--filter"))}");
        }

        sb.Append(string.Join(',', parts)).Append("},\"set\":").Append(ValuesObject(P.Skip(2)));
        if (args.Flag("--all"))
        {
            sb.Append(",\"all\":true");
        }

        sb.Append('}');
        var result = await client.SendJsonAsync(HttpMethod.Post, $"{V1}/cfg/bulk", sb.ToString(), ct);
        if (json)
        {
            await stdout.WriteLineAsync(result);
            return;
        }

        using var doc = JsonDocument.Parse(result);
        await stdout.WriteLineAsync($"selected {doc.RootElement.GetProperty("selected").GetInt32()}, changed {doc.RootElement.GetProperty("changed").GetInt32()}");
    }

    private async Task Import(CancellationToken ct)
    {
        var file = Arg(1, "state file");
        NoMoreThan(2);
        string text;
        try
        {
            text = await File.ReadAllTextAsync(file, ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read '{file}': {ex.Message}");
        }

        var mode = args.Option("--mode") ?? "upsert";
        var result = await client.SendJsonAsync(HttpMethod.Post, $"{V1}/cfg/import?mode={Uri.EscapeDataString(mode)}", text, ct);
        if (json)
        {
            await stdout.WriteLineAsync(result);
            return;
        }

        using var doc = JsonDocument.Parse(result);
        var r = doc.RootElement;
        await stdout.WriteLineAsync($"created {r.GetProperty("created").GetInt32()}, replaced {r.GetProperty("replaced").GetInt32()}, unchanged {r.GetProperty("unchanged").GetInt32()}");
        foreach (var w in r.GetProperty("warnings").EnumerateArray())
        {
            await stdout.WriteLineAsync($"warning: {w.GetString()}");
        }
    }

    private async Task Export(CancellationToken ct)
    {
        NoMoreThan(1);
        var body = await client.GetAsync($"{V1}/{(args.Flag("--dsc") ? "dsc" : "cfg")}/export", ct);
        if (args.Option("--file") is { } output)
        {
            await File.WriteAllTextAsync(output, body, ct);
            return;
        }

        await stdout.WriteAsync(body);
    }

    private async Task Graph(CancellationToken ct)
    {
        NoMoreThan(1);
        await stdout.WriteLineAsync(await client.GetAsync($"{V1}/graph{(args.Flag("--dot") ? "?format=dot" : string.Empty)}", ct));
    }

    private async Task Plan(CancellationToken ct)
    {
        var id = Arg(1, "node id");
        NoMoreThan(2);
        var body = await client.GetAsync($"{V1}/nodes/{Uri.EscapeDataString(id)}/plan", ct);
        if (json)
        {
            await stdout.WriteLineAsync(body);
            return;
        }

        using var doc = JsonDocument.Parse(body);
        var r = doc.RootElement;
        await stdout.WriteLineAsync($"node {Str(r, "node")}: {Str(r, "status")}");
        if (r.TryGetProperty("plan", out var plan) && plan.ValueKind == JsonValueKind.Object)
        {
            await stdout.WriteLineAsync($"plan {Str(plan, "status")}, cost {plan.GetProperty("cost").GetInt64()}: {Str(plan, "start")} -> {Str(plan, "goal")}");
            if (plan.TryGetProperty("reason", out var reason))
            {
                await stdout.WriteLineAsync($"reason: {reason.GetString()}");
            }

            var rows = plan.GetProperty("steps").EnumerateArray().Select((s, i) => new[] { (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), Str(s, "mutation"), Str(s, "module"), Str(s, "from"), Str(s, "to") }).ToList();
            if (rows.Count > 0)
            {
                await Table.WriteAsync(stdout, ["#", "MUTATION", "MODULE", "FROM", "TO"], rows);
            }
        }
    }

    private async Task Freeze(bool freeze, CancellationToken ct)
    {
        NoMoreThan(1);
        var body = await client.SendJsonAsync(HttpMethod.Post, $"{V1}/reconcile/{(freeze ? "freeze" : "thaw")}", null, ct);
        if (json)
        {
            await stdout.WriteLineAsync(body);
            return;
        }

        // A thaw at a child leaves the cluster's freeze (made at the root) in place: say so rather than "thawed".
        using var doc = JsonDocument.Parse(body);
        var frozen = doc.RootElement.GetProperty("frozen").GetBoolean();
        var cluster = doc.RootElement.TryGetProperty("cluster", out var c) && c.GetBoolean();
        await stdout.WriteLineAsync(!frozen ? "thawed" : !freeze && cluster ? "frozen: the cluster is frozen at the root (thaw it there)" : "frozen");
    }

    private async Task Tree(CancellationToken ct)
    {
        NoMoreThan(1);
        var body = await client.GetAsync($"{V1}/tree", ct);
        if (json)
        {
            await stdout.WriteLineAsync(body);
            return;
        }

        using var doc = JsonDocument.Parse(body);
        var r = doc.RootElement;
        await stdout.WriteLineAsync($"{Str(r, "self")} ({Str(r, "nodename")}) {Str(r, "role")}, sync {Str(r, "syncEndPoint")}, {r.GetProperty("nodes").GetInt32()} nodes");
        var rows = r.GetProperty("adjacencies").EnumerateArray()
            .Select(a => new[] { Str(a, "role"), Str(a, "peer"), Str(a, "nodename"), Str(a, "state"), Str(a, "endPoint"), a.GetProperty("sinceSeconds").GetDouble().ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "s" })
            .ToList();
        await Table.WriteAsync(stdout, ["ROLE", "PEER", "NAME", "STATE", "ENDPOINT", "SINCE"], rows);
        if (r.TryGetProperty("lost", out var lost) && lost.GetArrayLength() > 0)
        {
            // Nodes this daemon no longer hears of: a child that died, and what it carried that nobody reports since.
            var total = r.TryGetProperty("lostCount", out var c) ? c.GetInt32() : lost.GetArrayLength();
            var names = lost.EnumerateArray().Select(l => Str(l, "nodename") is var n && n != "-" ? n : Str(l, "id"));
            await stdout.WriteLineAsync($"lost: {total} node(s) no live child reports (last known Dsc kept): {string.Join(", ", names)}{(total > lost.GetArrayLength() ? ", ..." : "")}");
        }
    }

    /// <summary>"?param=value&amp;..." from every value of the given options (empty when none is given).</summary>
    private string Query(params (string Option, string Parameter)[] map)
    {
        var parts = map.SelectMany(m => args.Options(m.Option).Select(v => $"{m.Parameter}={Uri.EscapeDataString(v)}")).ToList();
        return parts.Count > 0 ? "?" + string.Join('&', parts) : string.Empty;
    }

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Null => "-",
            _ => v.GetRawText(),
        } : "-";

    private static Dictionary<string, string> Flatten(string valuesJson)
    {
        using var doc = JsonDocument.Parse(valuesJson);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Null ? "-" : p.Value.GetString() ?? "-", StringComparer.Ordinal);
    }

    /// <summary>URL=VALUE arguments as a JSON object; an empty value unsets (null).</summary>
    private static string ValuesObject(IEnumerable<string> assignments)
    {
        var sb = new StringBuilder("{");
        var first = true;
        foreach (var a in assignments)
        {
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException($"'{a}' is not URL=VALUE (e.g. /PhysState=POWER_ON)", 2);
            }

            var url = a[..eq];
            var value = a[(eq + 1)..];
            sb.Append(first ? string.Empty : ",").Append(DaemonJsonContext.Quote(url.StartsWith('/') ? url : "/" + url)).Append(':')
                .Append(value.Length == 0 ? "null" : DaemonJsonContext.Quote(value));
            first = false;
        }

        return sb.Append('}').ToString();
    }
}
