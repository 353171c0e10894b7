// Which nodes a list or bulk request means: ids, all nodes under a parent, and URL=value conditions.
using System.Text.Json;
using Kraken.Tree.State;

namespace Kraken.Daemon.Api;

/// <summary>
/// A selection of nodes. Every part given must hold (they combine with AND); an empty selection is every node.
/// <c>Under</c> is the subtree of a node by Cfg <c>/ParentId</c>, the node itself excluded.
/// </summary>
public sealed class Selection
{
    public HashSet<NodeId>? Ids { get; init; }

    public NodeId? Under { get; init; }

    public IReadOnlyList<(StateUrl Url, StateValue Value)> Where { get; init; } = [];

    public bool IsEmpty => Ids is null && Under is null && Where.Count == 0;

    /// <summary>From query parameters: <c>id</c> (repeated or comma-separated), <c>under</c>, <c>where</c> (URL=VALUE, repeated).</summary>
    public static Selection FromQuery(StateSchema schema, IEnumerable<string?> ids, string? under, IEnumerable<string?> where)
    {
        var idSet = ids.Where(s => !string.IsNullOrWhiteSpace(s))
            .SelectMany(s => s!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(s => ApiSupport.ParseId(s))
            .ToHashSet();
        var conditions = new List<(StateUrl, StateValue)>();
        foreach (var w in where.Where(s => !string.IsNullOrWhiteSpace(s)))
        {
            var eq = w!.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw ApiSupport.BadRequest("Invalid filter", $"The condition '{w}' is not URL=VALUE (e.g. /PhysState=POWER_ON).");
            }

            var url = ApiSupport.ResolveLeaf(schema, w[..eq]);
            conditions.Add((url, NodeEditor.Parse(url, w[(eq + 1)..])));
        }

        return new Selection
        {
            Ids = idSet.Count > 0 ? idSet : null,
            Under = string.IsNullOrWhiteSpace(under) ? null : ApiSupport.ParseId(under, "parent id"),
            Where = conditions,
        };
    }

    /// <summary>From a JSON object {"ids": [...], "under": "...", "where": {"/url": "value"}}.</summary>
    public static Selection FromJson(StateSchema schema, JsonElement select)
    {
        if (select.ValueKind != JsonValueKind.Object)
        {
            throw ApiSupport.BadRequest("Invalid selection", "\"select\" must be an object with \"ids\", \"under\" and/or \"where\".");
        }

        var ids = new List<string?>();
        string? under = null;
        var conditions = new List<(StateUrl, StateValue)>();
        foreach (var p in select.EnumerateObject())
        {
            switch (p.Name)
            {
                case "ids" when p.Value.ValueKind == JsonValueKind.Array:
                    ids.AddRange(p.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : throw ApiSupport.BadRequest("Invalid selection", "\"ids\" must hold strings.")));
                    break;
                case "under" when p.Value.ValueKind == JsonValueKind.String:
                    under = p.Value.GetString();
                    break;
                case "where":
                    conditions.AddRange(ApiSupport.ParseValues(schema, p.Value, "\"where\"").Select(kv => (kv.Key, kv.Value)));
                    break;
                default:
                    throw ApiSupport.BadRequest("Invalid selection", $"Unknown or mistyped selection key \"{p.Name}\"; use \"ids\" (array), \"under\" (string), \"where\" (object).");
            }
        }

        var s = FromQuery(schema, ids, under, []);
        return new Selection { Ids = s.Ids, Under = s.Under, Where = conditions };
    }

    /// <summary>The selected records of <paramref name="view"/>, sorted by id. <c>where</c> applies to that view.</summary>
    public List<NodeRecord> Apply(StateStore store, StateView view)
    {
        HashSet<NodeId>? subtree = null;
        if (Under is { } parent)
        {
            subtree = Subtree(store.Snapshot(StateView.Cfg), parent);
        }

        var result = new List<NodeRecord>();
        foreach (var record in store.Snapshot(view))
        {
            if ((Ids is null || Ids.Contains(record.Id))
                && (subtree is null || subtree.Contains(record.Id))
                && Where.All(c => c.Url.Get(record) == c.Value))
            {
                result.Add(record);
            }
        }

        return result;
    }

    private static HashSet<NodeId> Subtree(NodeRecord[] cfg, NodeId root)
    {
        var children = cfg.Where(r => r.ParentId is not null).ToLookup(r => r.ParentId!.Value, r => r.Id);
        var result = new HashSet<NodeId>();
        var queue = new Queue<NodeId>([root]);
        while (queue.Count > 0)
        {
            foreach (var child in children[queue.Dequeue()])
            {
                if (result.Add(child))
                {
                    queue.Enqueue(child);
                }
            }
        }

        result.Remove(root);
        return result;
    }
}
