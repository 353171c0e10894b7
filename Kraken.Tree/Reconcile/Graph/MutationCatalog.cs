// Validates the declarations of a module set and compiles them into typed mutations and planner masks.
using System.Collections.Immutable;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>
/// The registered modules of one engine: every declaration resolved against a <see cref="StateSchema"/> and
/// checked. Built once at start-up; a bad declaration (unknown URL, a value that is not a valid enum name, a
/// mutation id claimed twice...) throws <see cref="ModuleRegistrationException"/> listing every problem.
/// </summary>
public sealed class MutationCatalog
{
    private readonly Dictionary<string, Dictionary<StateUrl, HashSet<StateValue>>> _discoverable;
    private readonly Dictionary<string, Mutation> _byId;

    private MutationCatalog(
        StateSchema schema,
        ImmutableArray<ModuleDeclaration> modules,
        ImmutableArray<Mutation> mutations,
        StateLayout layout,
        ConstraintSet constraints,
        Dictionary<string, Dictionary<StateUrl, HashSet<StateValue>>> discoverable)
    {
        Schema = schema;
        Modules = modules;
        Mutations = mutations;
        Layout = layout;
        Constraints = constraints;
        _discoverable = discoverable;
        _byId = mutations.ToDictionary(m => m.Id, StringComparer.Ordinal);
    }

    public StateSchema Schema { get; }

    /// <summary>The modules, in registration order.</summary>
    public ImmutableArray<ModuleDeclaration> Modules { get; }

    /// <summary>Every mutation, ordered by id (ordinal).</summary>
    public ImmutableArray<Mutation> Mutations { get; }

    /// <summary>The URLs some mutation changes, ordered by path: the dimensions of the planner's state.</summary>
    public IReadOnlyList<StateUrl> MutatorUrls => Layout.Urls;

    /// <summary>The URLs mutations require or exclude but no mutation changes: constraints taken from the node.</summary>
    public IReadOnlyList<StateUrl> ConstraintUrls => Constraints.Urls;

    internal StateLayout Layout { get; }

    internal ConstraintSet Constraints { get; }

    public Mutation? Find(string id) => _byId.TryGetValue(id, out var m) ? m : null;

    /// <summary>True when <paramref name="module"/> may report <paramref name="value"/> at <paramref name="url"/>.</summary>
    public bool IsDiscoverable(string module, StateUrl url, StateValue value) =>
        _discoverable.TryGetValue(module, out var urls) && urls.TryGetValue(url, out var values) && values.Contains(value);

    /// <summary>The values <paramref name="module"/> may report at <paramref name="url"/>, for error messages.</summary>
    public IEnumerable<StateValue> DiscoverableValues(string module, StateUrl url) =>
        _discoverable.TryGetValue(module, out var urls) && urls.TryGetValue(url, out var values) ? values : [];

    /// <summary>The URLs <paramref name="module"/> may report.</summary>
    public IEnumerable<StateUrl> DiscoverableUrls(string module) =>
        _discoverable.TryGetValue(module, out var urls) ? urls.Keys.OrderBy(u => u.Path, StringComparer.Ordinal) : [];

    public static MutationCatalog Create(StateSchema schema, IEnumerable<IReconcileModule> modules) =>
        Create(schema, modules.Select(m => m.Declaration));

    /// <summary>Validates and compiles a module set; throws <see cref="ModuleRegistrationException"/> naming every problem.</summary>
    public static MutationCatalog Create(StateSchema schema, IEnumerable<ModuleDeclaration> modules)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(modules);
        var builder = new Builder(schema);
        return builder.Build([.. modules]);
    }

    private sealed class Builder(StateSchema schema)
    {
        private readonly List<string> _errors = [];
        private readonly Dictionary<string, Dictionary<StateUrl, HashSet<StateValue>>> _discoverable = new(StringComparer.Ordinal);

        public MutationCatalog Build(ImmutableArray<ModuleDeclaration> modules)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            var owners = new Dictionary<string, string>(StringComparer.Ordinal);
            var resolved = new List<(Mutation Mutation, ResolvedDeclaration Declaration)>();
            foreach (var module in modules)
            {
                if (module is null || string.IsNullOrWhiteSpace(module.Name) || !module.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
                {
                    _errors.Add($"Module name '{module?.Name}' is not valid: use letters, digits, '.', '_' and '-'.");
                    continue;
                }

                if (!names.Add(module.Name))
                {
                    _errors.Add($"Module '{module.Name}' is registered twice.");
                    continue;
                }

                var discoverable = new Dictionary<StateUrl, HashSet<StateValue>>(ReferenceEqualityComparer.Instance);
                _discoverable[module.Name] = discoverable;
                foreach (var d in module.Discoverables ?? [])
                {
                    var where = $"Module '{module.Name}', discoverable {d.Url}";
                    if (ResolveLeaf(where, d.Url) is not { } url)
                    {
                        continue;
                    }

                    foreach (var text in d.Values ?? [])
                    {
                        if (ParseValue(where, url, text) is { } value)
                        {
                            AddDiscoverable(discoverable, url, value);
                        }
                    }
                }

                foreach (var m in module.Mutations ?? [])
                {
                    if (m is null || string.IsNullOrWhiteSpace(m.Id) || m.Id.Any(char.IsWhiteSpace))
                    {
                        _errors.Add($"Module '{module.Name}': mutation id '{m?.Id}' is not valid: it must be non-empty, without spaces.");
                        continue;
                    }

                    if (owners.TryGetValue(m.Id, out var owner))
                    {
                        _errors.Add($"Mutation id '{m.Id}' is claimed by two modules: '{owner}' and '{module.Name}'.");
                        continue;
                    }

                    owners[m.Id] = module.Name;
                    if (Resolve(module.Name, m) is { } r)
                    {
                        resolved.Add((new Mutation(m.Id, module.Name, m), r));
                        foreach (var mv in r.Mutates)
                        {
                            AddDiscoverable(discoverable, mv.Url, mv.To);
                        }

                        if (r.FailTo is { } f)
                        {
                            AddDiscoverable(discoverable, f.Key, f.Value);
                        }
                    }
                }
            }

            ThrowIfErrors();
            resolved.Sort(static (a, b) => string.CompareOrdinal(a.Mutation.Id, b.Mutation.Id));

            var mutatorUrls = resolved.SelectMany(r => r.Declaration.Mutates.Select(m => m.Url)).Distinct().OrderBy(u => u.Path, StringComparer.Ordinal).ToList();
            var bits = mutatorUrls.Sum(u => StateLayout.BitsFor(u.ValueType!.EnumType!));
            if (bits > StateLayout.MaxBits)
            {
                _errors.Add($"The mutated URLs ({string.Join(", ", mutatorUrls)}) need {bits} bits of planner state; at most {StateLayout.MaxBits} are supported.");
            }

            var mutatorSet = mutatorUrls.ToHashSet(ReferenceEqualityComparer.Instance);
            var constraintPredicates = resolved
                .SelectMany(r => r.Declaration.Requires.Concat(r.Declaration.Excludes))
                .Where(p => !mutatorSet.Contains(p.Key))
                .ToList();
            var constraints = new ConstraintSet(constraintPredicates);
            if (constraints.Predicates.Length > ConstraintSet.MaxPredicates)
            {
                _errors.Add($"Mutations require or exclude {constraints.Predicates.Length} distinct values of unmutated URLs; at most {ConstraintSet.MaxPredicates} are supported.");
            }

            ThrowIfErrors();
            var layout = new StateLayout(mutatorUrls);
            var mutations = ImmutableArray.CreateBuilder<Mutation>(resolved.Count);
            for (var i = 0; i < resolved.Count; i++)
            {
                var (mutation, decl) = resolved[i];
                mutation.Index = i;
                Compile(mutation, decl, layout, constraints);
                mutations.Add(mutation);
            }

            var all = mutations.ToImmutable();
            ComputeDeps(all, layout);
            return new MutationCatalog(schema, modules, all, layout, constraints, _discoverable);
        }

        private static void AddDiscoverable(Dictionary<StateUrl, HashSet<StateValue>> map, StateUrl url, StateValue value)
        {
            if (!map.TryGetValue(url, out var set))
            {
                map[url] = set = [];
            }

            set.Add(value);
        }

        private void ThrowIfErrors()
        {
            if (_errors.Count > 0)
            {
                throw new ModuleRegistrationException([.. _errors]);
            }
        }

        private StateUrl? ResolveLeaf(string where, string? text)
        {
            if (text is null)
            {
                _errors.Add($"{where}: the URL is missing.");
                return null;
            }

            if (!schema.TryResolve(text, out var url, out var error))
            {
                _errors.Add($"{where}: unknown URL. {error}");
                return null;
            }

            if (!url.IsLeaf)
            {
                _errors.Add($"{where}: {url.Path} is a container, not a value.");
                return null;
            }

            return url;
        }

        private StateValue? ParseValue(string where, StateUrl url, string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                _errors.Add($"{where}: the value is empty; expected {url.ValueType!.Describe()}.");
                return null;
            }

            if (url.ValueType!.Kind == ValueKind.Enum)
            {
                // Declarations name enum values, as the original's YAML did; numbers are not accepted here.
                var byName = url.ValueType.EnumType!.FindValueByName(text);
                if (byName is null)
                {
                    _errors.Add($"{where}: '{text}' is not a valid value name for {url.Path}; expected {url.ValueType.Describe()}.");
                    return null;
                }

                return StateValue.FromEnum(url.ValueType.EnumType, byName.Number);
            }

            if (!url.ValueType.TryParse(text, out var value, out var error))
            {
                _errors.Add($"{where}: {error}.");
                return null;
            }

            return value;
        }

        private ResolvedDeclaration? Resolve(string module, MutationDeclaration m)
        {
            var where = $"Module '{module}', mutation '{m.Id}'";
            var before = _errors.Count;
            var mutates = new List<MutatedValue>();
            if (m.Mutates is null || m.Mutates.Count == 0)
            {
                _errors.Add($"{where}: it mutates nothing; declare at least one URL with a from- and a to-value.");
            }

            foreach (var mu in m.Mutates ?? [])
            {
                var at = $"{where}, {mu.Url}";
                if (ResolveLeaf(at, mu.Url) is not { } url)
                {
                    continue;
                }

                if (url.ValueType!.Kind != ValueKind.Enum)
                {
                    _errors.Add($"{at}: only enum-valued URLs can be mutated; {url.Path} holds {url.ValueType.Describe()}.");
                    continue;
                }

                if (mutates.Exists(x => ReferenceEquals(x.Url, url)))
                {
                    _errors.Add($"{at}: {url.Path} is mutated twice.");
                    continue;
                }

                var from = ParseValue($"{at} from", url, mu.From);
                var to = ParseValue($"{at} to", url, mu.To);
                if (from is { } f && to is { } t)
                {
                    if (f == t)
                    {
                        _errors.Add($"{at}: from and to are both {f}; a mutation must change the value.");
                        continue;
                    }

                    mutates.Add(new MutatedValue(url, f, t));
                }
            }

            var requires = ResolvePairs($"{where}, requires", m.Requires, mutates, unique: true);
            var excludes = ResolvePairs($"{where}, excludes", m.Excludes, mutates, unique: false);
            foreach (var r in requires)
            {
                if (excludes.Contains(r))
                {
                    _errors.Add($"{where}: {r.Key.Path} = {r.Value} is both required and excluded.");
                }
            }

            if (m.Timeout < TimeSpan.Zero)
            {
                _errors.Add($"{where}: timeout {m.Timeout} is negative; use zero for no timeout.");
            }

            if (m.Cost is < 1 or > 1_000_000)
            {
                _errors.Add($"{where}: cost {m.Cost} is out of range; expected 1 to 1000000.");
            }

            if (!Enum.IsDefined(m.Context))
            {
                _errors.Add($"{where}: context {m.Context} is not Self, Child or All.");
            }

            KeyValuePair<StateUrl, StateValue>? failTo = null;
            if (m.FailTo is { } ft && ResolveLeaf($"{where}, fail-to {ft.Url}", ft.Url) is { } failUrl
                && ParseValue($"{where}, fail-to {ft.Url}", failUrl, ft.Value) is { } failValue)
            {
                failTo = new(failUrl, failValue);
            }

            return _errors.Count == before ? new ResolvedDeclaration([.. mutates], requires, excludes, failTo) : null;
        }

        private List<KeyValuePair<StateUrl, StateValue>> ResolvePairs(string where, IReadOnlyList<UrlValue>? pairs, List<MutatedValue> mutates, bool unique)
        {
            var result = new List<KeyValuePair<StateUrl, StateValue>>();
            foreach (var p in pairs ?? [])
            {
                var at = $"{where} {p.Url}";
                if (ResolveLeaf(at, p.Url) is not { } url || ParseValue(at, url, p.Value) is not { } value)
                {
                    continue;
                }

                if (mutates.Exists(x => ReferenceEquals(x.Url, url)))
                {
                    _errors.Add($"{at}: {url.Path} is also mutated; a mutation cannot require or exclude a URL it changes.");
                    continue;
                }

                if (result.Exists(x => ReferenceEquals(x.Key, url) && (unique || x.Value == value)))
                {
                    _errors.Add($"{at}: {url.Path} is listed twice.");
                    continue;
                }

                result.Add(new(url, value));
            }

            return result;
        }

        private static void Compile(Mutation m, ResolvedDeclaration d, StateLayout layout, ConstraintSet constraints)
        {
            m.Mutates = [.. d.Mutates];
            m.Requires = [.. d.Requires];
            m.Excludes = [.. d.Excludes];
            if (d.FailTo is { } f)
            {
                m.FailToUrl = f.Key;
                m.FailToValue = f.Value;
            }

            UInt128 preMask = 0, preValues = 0, postMask = 0, postValues = 0, keepMask = 0, keepValues = 0;
            foreach (var mv in d.Mutates)
            {
                var i = layout.IndexOf(mv.Url);
                preMask |= layout.FieldMask(i);
                preValues = layout.With(preValues, i, layout.Dense(i, mv.From));
                postMask |= layout.FieldMask(i);
                postValues = layout.With(postValues, i, layout.Dense(i, mv.To));
            }

            UInt128 cReq = 0, cExc = 0;
            foreach (var (url, value) in d.Requires)
            {
                var i = layout.IndexOf(url);
                if (i >= 0)
                {
                    preMask |= layout.FieldMask(i);
                    preValues = layout.With(preValues, i, layout.Dense(i, value));
                    keepMask |= layout.FieldMask(i);
                    keepValues = layout.With(keepValues, i, layout.Dense(i, value));
                }
                else
                {
                    cReq |= UInt128.One << constraints.Bit(url, value);
                }
            }

            var excluded = new List<(UInt128, UInt128)>();
            foreach (var (url, value) in d.Excludes)
            {
                var i = layout.IndexOf(url);
                if (i >= 0)
                {
                    excluded.Add((layout.FieldMask(i), layout.With(0, i, layout.Dense(i, value))));
                }
                else
                {
                    cExc |= UInt128.One << constraints.Bit(url, value);
                }
            }

            m.PreMask = preMask;
            m.PreValues = preValues;
            m.PostMask = postMask;
            m.PostValues = postValues;
            m.KeepMask = keepMask;
            m.KeepValues = keepValues;
            m.ExcludedStates = [.. excluded];
            m.ConstraintRequires = cReq;
            m.ConstraintExcludes = cExc;
        }

        /// <summary>
        /// A mutated URL w is knowable only while every (URL, value) that all of its discovery mutations (those
        /// changing w from unknown) require on other mutated URLs holds: e.g. the PXE state only while the node
        /// is powered on. URLs without a discovery mutation are always knowable.
        /// </summary>
        private static void ComputeDeps(ImmutableArray<Mutation> mutations, StateLayout layout)
        {
            var dependents = new List<(int, int)>[layout.Count];
            for (var i = 0; i < layout.Count; i++)
            {
                dependents[i] = [];
            }

            for (var w = 0; w < layout.Count; w++)
            {
                HashSet<(int, int)>? common = null;
                foreach (var m in mutations)
                {
                    var discovers = m.Mutates.Any(mv => ReferenceEquals(mv.Url, layout.Urls[w]) && layout.Dense(w, mv.From) == 0);
                    if (!discovers)
                    {
                        continue;
                    }

                    var reqs = m.Requires.Select(r => (layout.IndexOf(r.Key), r.Value))
                        .Where(r => r.Item1 >= 0 && r.Item1 != w)
                        .Select(r => (r.Item1, layout.Dense(r.Item1, r.Value)))
                        .ToHashSet();
                    if (common is null)
                    {
                        common = reqs;
                    }
                    else
                    {
                        common.IntersectWith(reqs);
                    }
                }

                var deps = common is null ? [] : common.OrderBy(x => x.Item1).ThenBy(x => x.Item2).ToArray();
                layout.Deps[w] = deps;
                foreach (var (u, d) in deps)
                {
                    dependents[u].Add((w, d));
                }
            }

            for (var u = 0; u < layout.Count; u++)
            {
                layout.Dependents[u] = [.. dependents[u]];
            }
        }
    }

    private sealed record ResolvedDeclaration(
        MutatedValue[] Mutates,
        List<KeyValuePair<StateUrl, StateValue>> Requires,
        List<KeyValuePair<StateUrl, StateValue>> Excludes,
        KeyValuePair<StateUrl, StateValue>? FailTo);
}
