// The shapes of the original Kraken's paths' bodies, for the OpenAPI document.
namespace Kraken.Daemon.Api;

public sealed record LegacyNodeList(IReadOnlyList<LegacyNode> Nodes);

/// <summary>The mutation graph as the original drew it; with a node's path, vertices and edges carry colours.</summary>
public sealed record LegacyGraph(IReadOnlyList<LegacyVertex> Nodes, IReadOnlyList<LegacyEdge> Edges);

public sealed record LegacyVertex(string Label, int Id, LegacyVertexColor? Color = null);

public sealed record LegacyEdge(int From, int To, int Id, LegacyEdgeColor? Color = null);

public sealed record LegacyVertexColor(string Border, string Background);

public sealed record LegacyEdgeColor(string Color, string Highlight, bool Inherit);

/// <summary><c>options</c>: Enum number (as text) to name.</summary>
public sealed record LegacyEnumerable(string Name, string Url, IReadOnlyDictionary<string, string> Options);

/// <summary>Where the original's websocket is.</summary>
public sealed record LegacyWebSocketInfo(string Host, string Port, string Url);
