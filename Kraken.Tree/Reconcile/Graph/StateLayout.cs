// Packs the values of the mutating URLs of a node into one 128-bit key, and knows which values are knowable.
using System.Numerics;
using System.Text;
using Google.Protobuf.Reflection;
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>
/// The planner's view of a node: one small dense index per mutating URL (0 = unknown: unset or the enum's zero
/// value), packed into a <see cref="UInt128"/> so that states compare, hash and cache without allocating.
/// Also holds the knowability rules ("forgetfulness"): a value is only knowable while the requirements of the
/// mutations that discover it hold (the PXE state of a node that is not powered on is unknown).
/// </summary>
internal sealed class StateLayout
{
    public const int MaxBits = 128;

    private readonly Field[] _fields;
    private readonly Dictionary<StateUrl, int> _index;

    public StateLayout(IReadOnlyList<StateUrl> urls)
    {
        Urls = [.. urls];
        _fields = new Field[Urls.Length];
        _index = new Dictionary<StateUrl, int>(ReferenceEqualityComparer.Instance);
        var offset = 0;
        for (var i = 0; i < Urls.Length; i++)
        {
            var field = new Field(Urls[i].ValueType!.EnumType!, offset);
            _fields[i] = field;
            _index[Urls[i]] = i;
            offset += field.Bits;
        }

        TotalBits = offset;
        Deps = new (int Url, int Dense)[Urls.Length][];
        Dependents = new (int Dependent, int Dense)[Urls.Length][];
        for (var i = 0; i < Urls.Length; i++)
        {
            Deps[i] = [];
            Dependents[i] = [];
        }
    }

    /// <summary>The mutating URLs, sorted by path.</summary>
    public StateUrl[] Urls { get; }

    public int Count => Urls.Length;

    public int TotalBits { get; }

    /// <summary>Per URL w: the (URL, value) pairs that must hold for w to be knowable.</summary>
    public (int Url, int Dense)[][] Deps { get; }

    /// <summary>Per URL u: the URLs whose knowability depends on u having a value, and that value.</summary>
    public (int Dependent, int Dense)[][] Dependents { get; }

    /// <summary>The number of bits each URL needs, for the registration check.</summary>
    public static int BitsFor(EnumDescriptor type) => Field.BitsFor(type);

    public int IndexOf(StateUrl url) => _index.TryGetValue(url, out var i) ? i : -1;

    public UInt128 FieldMask(int i) => _fields[i].Mask;

    /// <summary>The dense index of a value of URL <paramref name="i"/>: 0 for unset and the zero value.</summary>
    public int Dense(int i, StateValue value) =>
        value.Kind == ValueKind.Enum ? _fields[i].DenseOf(value.EnumNumber) : 0;

    public StateValue Value(int i, int dense) => _fields[i].ValueOf(dense);

    public int Get(UInt128 state, int i)
    {
        ref readonly var f = ref _fields[i];
        return (int)(ulong)((state >> f.Offset) & f.Low);
    }

    public UInt128 With(UInt128 state, int i, int dense)
    {
        ref readonly var f = ref _fields[i];
        return (state & ~f.Mask) | ((UInt128)(uint)dense << f.Offset);
    }

    /// <summary>The packed values of a record (no knowability applied).</summary>
    public UInt128 Project(NodeRecord record)
    {
        UInt128 state = 0;
        for (var i = 0; i < _fields.Length; i++)
        {
            var v = Urls[i].Get(record);
            if (v.Kind == ValueKind.Enum && v.EnumNumber != 0)
            {
                state |= (UInt128)(uint)_fields[i].DenseOf(v.EnumNumber) << _fields[i].Offset;
            }
        }

        return state;
    }

    /// <summary>Sets every value that cannot be known in this state to unknown, until nothing changes.</summary>
    public UInt128 Normalize(UInt128 state)
    {
        bool changed;
        do
        {
            changed = false;
            for (var w = 0; w < _fields.Length; w++)
            {
                if (Get(state, w) == 0)
                {
                    continue;
                }

                foreach (var (u, d) in Deps[w])
                {
                    if (Get(state, u) != d)
                    {
                        state = With(state, w, 0);
                        changed = true;
                        break;
                    }
                }
            }
        }
        while (changed);

        return state;
    }

    /// <summary>The goal a Cfg record sets: a mask of the URLs it cares about and their values.</summary>
    public (UInt128 Mask, UInt128 Values) Goal(NodeRecord cfg)
    {
        UInt128 mask = 0, values = 0;
        for (var i = 0; i < _fields.Length; i++)
        {
            var v = Urls[i].Get(cfg);
            if (v.Kind == ValueKind.Enum && v.EnumNumber != 0)
            {
                mask |= _fields[i].Mask;
                values |= (UInt128)(uint)_fields[i].DenseOf(v.EnumNumber) << _fields[i].Offset;
            }
        }

        return (mask, values);
    }

    /// <summary>The known values of a state, in URL order.</summary>
    public IEnumerable<KeyValuePair<StateUrl, StateValue>> Values(UInt128 state)
    {
        for (var i = 0; i < _fields.Length; i++)
        {
            var d = Get(state, i);
            if (d != 0)
            {
                yield return new(Urls[i], Value(i, d));
            }
        }
    }

    /// <summary><c>{/PhysState=POWER_ON, /Extensions/Pxe/State=WAIT}</c>; <c>{}</c> when nothing is known.</summary>
    public string Format(UInt128 state) => Format(state, null);

    /// <summary>The URLs of <paramref name="mask"/> (all known ones when null) with their values in <paramref name="state"/>.</summary>
    public string Format(UInt128 state, UInt128? mask)
    {
        var sb = new StringBuilder("{");
        for (var i = 0; i < _fields.Length; i++)
        {
            var d = Get(state, i);
            if (mask is { } m ? (m & _fields[i].Mask) == 0 : d == 0)
            {
                continue;
            }

            if (sb.Length > 1)
            {
                sb.Append(", ");
            }

            sb.Append(Urls[i].Path).Append('=').Append(Name(i, d));
        }

        return sb.Append('}').ToString();
    }

    /// <summary>The text of a value of URL <paramref name="i"/>; the zero value reads as its enum name.</summary>
    public string Name(int i, int dense) => _fields[i].NameOf(dense);

    private readonly struct Field
    {
        private readonly EnumValueDescriptor[] _values;
        private readonly int[] _denseByNumber;
        private readonly Dictionary<int, int>? _denseByLargeNumber;

        public Field(EnumDescriptor type, int offset)
        {
            Type = type;
            Offset = offset;
            var values = new List<EnumValueDescriptor>();
            var zero = type.FindValueByNumber(0);
            values.Add(zero);
            foreach (var v in type.Values)
            {
                if (v.Number != 0 && values.TrueForAll(x => x.Number != v.Number))
                {
                    values.Add(v);
                }
            }

            _values = [.. values];
            Bits = BitsFor(type);
            Low = (UInt128.One << Bits) - 1;
            Mask = Low << offset;
            _denseByNumber = new int[64];
            for (var d = 1; d < _values.Length; d++)
            {
                var n = _values[d].Number;
                if (n is >= 0 and < 64)
                {
                    _denseByNumber[n] = d;
                }
                else
                {
                    (_denseByLargeNumber ??= [])[n] = d;
                }
            }
        }

        public EnumDescriptor Type { get; }

        public int Offset { get; }

        public int Bits { get; }

        public UInt128 Low { get; }

        public UInt128 Mask { get; }

        public static int BitsFor(EnumDescriptor type)
        {
            var distinct = type.Values.Select(v => v.Number).Append(0).Distinct().Count();
            return Math.Max(1, 32 - BitOperations.LeadingZeroCount((uint)(distinct - 1)));
        }

        public int DenseOf(int number) =>
            number is >= 0 and < 64 ? _denseByNumber[number] : _denseByLargeNumber is { } map && map.TryGetValue(number, out var d) ? d : 0;

        public StateValue ValueOf(int dense) => dense == 0 ? default : StateValue.FromEnum(Type, _values[dense].Number);

        public string NameOf(int dense) => _values[dense].Name;
    }
}
