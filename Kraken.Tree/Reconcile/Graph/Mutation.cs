// A registered mutation: its declaration resolved to URLs and typed values, plus its planner masks.
using System.Collections.Immutable;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>One URL a mutation changes, resolved.</summary>
public readonly record struct MutatedValue(StateUrl Url, StateValue From, StateValue To)
{
    public override string ToString() => $"{Url}: {From} -> {To}";
}

/// <summary>
/// A validated mutation of a registered module. Requirements on URLs that some mutation changes are part of
/// the planner's state; requirements on any other URL (<c>/Platform</c>, <c>/Arch</c>) are constraints
/// evaluated against the node's Cfg (or its Dsc where Cfg leaves the URL unset).
/// </summary>
public sealed class Mutation
{
    internal Mutation(string id, string module, MutationDeclaration declaration)
    {
        Id = id;
        Module = module;
        Context = declaration.Context;
        Timeout = declaration.Timeout;
        Cost = declaration.Cost;
    }

    public string Id { get; }

    /// <summary>The name of the module that performs it.</summary>
    public string Module { get; }

    public MutationContext Context { get; }

    /// <summary>Zero: no timeout.</summary>
    public TimeSpan Timeout { get; }

    public int Cost { get; }

    public ImmutableArray<MutatedValue> Mutates { get; internal set; } = [];

    public ImmutableArray<KeyValuePair<StateUrl, StateValue>> Requires { get; internal set; } = [];

    public ImmutableArray<KeyValuePair<StateUrl, StateValue>> Excludes { get; internal set; } = [];

    /// <summary>Where the failure value is written on timeout; null when the mutation declares none.</summary>
    public StateUrl? FailToUrl { get; internal set; }

    public StateValue FailToValue { get; internal set; }

    /// <summary>Position in the catalog's order (mutation ids, ordinal): the planner's tie-breaker.</summary>
    internal int Index { get; set; }

    /// <summary>Fields and values that must hold before: mutated URLs at their from-values, required mutator values.</summary>
    internal UInt128 PreMask { get; set; }

    internal UInt128 PreValues { get; set; }

    /// <summary>Required mutator values that are not mutated: they must still hold after.</summary>
    internal UInt128 KeepMask { get; set; }

    internal UInt128 KeepValues { get; set; }

    /// <summary>Mutated fields and their to-values.</summary>
    internal UInt128 PostMask { get; set; }

    internal UInt128 PostValues { get; set; }

    /// <summary>Excluded mutator values, one field each.</summary>
    internal (UInt128 Mask, UInt128 Value)[] ExcludedStates { get; set; } = [];

    /// <summary>Constraint predicates that must hold, and that must not hold (bits of the catalog's constraint set).</summary>
    internal UInt128 ConstraintRequires { get; set; }

    internal UInt128 ConstraintExcludes { get; set; }

    /// <summary>True when the mutation can run in <paramref name="state"/> (ignoring constraints).</summary>
    internal bool AppliesTo(UInt128 state)
    {
        if ((state & PreMask) != PreValues)
        {
            return false;
        }

        foreach (var (mask, value) in ExcludedStates)
        {
            if ((state & mask) == value)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when the mutation is allowed for a node whose constraint predicates are <paramref name="constraints"/>.</summary>
    internal bool AllowedBy(UInt128 constraints) =>
        (constraints & ConstraintRequires) == ConstraintRequires && (constraints & ConstraintExcludes) == 0;

    public override string ToString() => $"{Id} ({Module}: {string.Join(", ", Mutates)})";
}
