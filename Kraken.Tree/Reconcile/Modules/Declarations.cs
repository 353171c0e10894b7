// What a module declares, in the text form of the original's YAML: URLs and enum value names.
namespace Kraken.Tree.Reconcile;

/// <summary>Which daemon performs a mutation for a node.</summary>
public enum MutationContext : byte
{
    /// <summary>The node's own daemon (the node is the engine's self).</summary>
    Self,

    /// <summary>The node's responsible parent (by default: the node's Cfg <c>/ParentId</c> is the engine's self).</summary>
    Child,

    /// <summary>Every daemon that holds the node.</summary>
    All,
}

/// <summary>A URL and a value, both as text (<c>/PhysState</c>, <c>POWER_ON</c>).</summary>
public sealed record UrlValue(string Url, string Value)
{
    public override string ToString() => $"{Url} = {Value}";
}

/// <summary>One URL a mutation changes, from one enum value to another (names, as in <c>POWER_OFF</c>).</summary>
public sealed record MutatedUrl(string Url, string From, string To)
{
    public override string ToString() => $"{Url}: {From} -> {To}";
}

/// <summary>The values a module may report for one URL.</summary>
public sealed record DiscoverableDeclaration(string Url, IReadOnlyList<string> Values);

/// <summary>
/// A mutation as a module declares it. Every URL and value is text, resolved and checked when the module set
/// is registered (<see cref="MutationCatalog.Create(Kraken.Tree.State.StateSchema, IEnumerable{ModuleDeclaration})"/>).
/// </summary>
/// <param name="Id">Unique across all registered modules (<c>OFFtoON</c>).</param>
public sealed record MutationDeclaration(string Id)
{
    /// <summary>The URLs it changes; every one must hold an enum value.</summary>
    public IReadOnlyList<MutatedUrl> Mutates { get; init; } = [];

    /// <summary>Values that must hold before and after (<c>/PhysState = POWER_ON</c>, <c>/Platform = vbox</c>).</summary>
    public IReadOnlyList<UrlValue> Requires { get; init; } = [];

    /// <summary>Values that must not hold.</summary>
    public IReadOnlyList<UrlValue> Excludes { get; init; } = [];

    public MutationContext Context { get; init; } = MutationContext.Self;

    /// <summary>How long to wait for the Dsc change that confirms it; zero waits for ever.</summary>
    public TimeSpan Timeout { get; init; }

    /// <summary>The value written to Dsc when the mutation times out or fails (<c>/PhysState = PHYS_HANG</c>).</summary>
    public UrlValue? FailTo { get; init; }

    /// <summary>The planner's cost of this edge (at least 1); plans minimise the sum.</summary>
    public int Cost { get; init; } = 1;
}

/// <summary>Everything a module declares: its name, what it discovers and what it can change.</summary>
public sealed record ModuleDeclaration(string Name)
{
    public IReadOnlyList<DiscoverableDeclaration> Discoverables { get; init; } = [];

    public IReadOnlyList<MutationDeclaration> Mutations { get; init; } = [];
}
