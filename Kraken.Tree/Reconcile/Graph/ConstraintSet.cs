// The requirements on URLs no mutation changes, as a bit set evaluated once per node.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>
/// Every distinct (URL, value) that some mutation requires or excludes on a URL no mutation changes. A node's
/// constraint bits say which of them hold for it, so edges can be enabled with two mask tests and plans can
/// be cached per bit pattern rather than per node. The value is read from Cfg, or from Dsc where Cfg leaves
/// the URL unset.
/// </summary>
internal sealed class ConstraintSet
{
    public const int MaxPredicates = 128;

    private readonly StateUrl[] _urls;
    private readonly (int Bit, StateValue Value)[][] _byUrl;

    public ConstraintSet(IEnumerable<KeyValuePair<StateUrl, StateValue>> predicates)
    {
        Predicates = [.. predicates
            .Distinct()
            .OrderBy(p => p.Key.Path, StringComparer.Ordinal)
            .ThenBy(p => p.Value.ToString(), StringComparer.Ordinal)];
        _urls = [.. Predicates.Select(p => p.Key).Distinct()];
        _byUrl = [.. _urls.Select(u => Predicates
            .Select((p, bit) => (p, bit))
            .Where(x => ReferenceEquals(x.p.Key, u))
            .Select(x => (x.bit, x.p.Value))
            .ToArray())];
    }

    public KeyValuePair<StateUrl, StateValue>[] Predicates { get; }

    public IReadOnlyList<StateUrl> Urls => _urls;

    public int Bit(StateUrl url, StateValue value) => Array.IndexOf(Predicates, new KeyValuePair<StateUrl, StateValue>(url, value));

    public UInt128 Evaluate(NodeRecord cfg, NodeRecord? dsc)
    {
        UInt128 bits = 0;
        for (var i = 0; i < _urls.Length; i++)
        {
            var v = _urls[i].Get(cfg);
            if (!v.IsSet && dsc is not null)
            {
                v = _urls[i].Get(dsc);
            }

            foreach (var (bit, value) in _byUrl[i])
            {
                if (v == value)
                {
                    bits |= UInt128.One << bit;
                }
            }
        }

        return bits;
    }

    public string Describe(int bit) => $"{Predicates[bit].Key.Path} = {Predicates[bit].Value}";
}
