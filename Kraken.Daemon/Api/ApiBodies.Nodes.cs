// The shapes of the node and value endpoints' bodies, for the OpenAPI document: the handlers write these with a
// Utf8JsonWriter (nodes stream), and tests read every answer back into them strictly.
using System.Text.Json.Serialization;

namespace Kraken.Daemon.Api;

/// <summary>
/// A node in the state-file shape (docs/state-file.md). Its schema is built from the registered extensions'
/// messages (<see cref="NodeSchemas"/>), so a module's extension appears in the document without code here.
/// </summary>
public sealed class StateNode;

/// <summary>A node in the original Kraken's JSON (jsonpb: "@type" extensions, services as a list); schema built like <see cref="StateNode"/>.</summary>
public sealed class LegacyNode;

/// <summary>A state value: text (<c>POWER_ON</c>, <c>198.18.0.11</c>), a number, a boolean, or null for "unset".</summary>
public sealed class ScalarValue;

/// <summary>The body of a create: one node, <c>{"nodes": [...]}</c>, or an array of nodes.</summary>
public sealed class NodesInput;

/// <summary>The body of an import: a state file (<c>kraken-state/1</c>) or the original's NodeList.</summary>
public sealed class ImportInput;

/// <summary><c>nodes</c>: Sorted by id.</summary>
public sealed record StateNodeList(IReadOnlyList<StateNode> Nodes);

/// <summary><c>format</c>: Always <c>kraken-state/1</c> in an export; optional on input.</summary>
public sealed record StateFile(IReadOnlyList<StateNode> Nodes, string Format = Tree.StateFiles.StateFileWriter.Format);

/// <summary>One value of a node: <c>value</c> is null when unset (and for a container URL).</summary>
public sealed record ValueAnswer(string Node, string Url, string? Value, ulong Version);

/// <summary>The body of <c>PUT .../values/{url}</c>.</summary>
public sealed record SetValueRequest(ScalarValue Value);

/// <summary>Which nodes: every part given must hold. <c>ids</c>: Node ids. <c>under</c>: A node whose subtree (by Cfg /ParentId, itself excluded) is selected. <c>where</c>: State URL to value conditions, in the view acted on.</summary>
public sealed record SelectionFilter(IReadOnlyList<string>? Ids = null, string? Under = null, IReadOnlyDictionary<string, ScalarValue>? Where = null);

/// <summary><c>select</c>: The nodes; an empty selection needs <c>all</c>. <c>set</c>: State URL to value, set on every selected node in one transaction. <c>all</c>: True to change every node when the selection is empty.</summary>
public sealed record BulkSetRequest(IReadOnlyDictionary<string, ScalarValue> Set, SelectionFilter? Select = null, bool? All = null);

/// <summary><c>nodes</c>: The ids of the nodes whose Cfg changed.</summary>
public sealed record BulkSetResult(int Selected, int Changed, IReadOnlyList<string> Nodes);

public sealed record ImportResult(int Created, int Replaced, int Unchanged, IReadOnlyList<string> Warnings);

/// <summary>Where the reconcile engine stands. <c>cluster</c> and <c>local</c> are left out by the original's <c>/sme</c> paths.</summary>
public sealed record FreezeState(bool Frozen, bool? Cluster = null, bool? Local = null);

/// <summary>The role of a daemon in the tree.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DaemonRole>))]
public enum DaemonRole
{
    [JsonStringEnumMemberName("root")]
    Root,

    [JsonStringEnumMemberName("child")]
    Child,
}
