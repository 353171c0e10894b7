// Compiled, allocation-free readers for scalar protobuf fields (reflection accessors box every read).
using System.Collections.Concurrent;
using System.Linq.Expressions;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Kraken.Tree.State;

/// <summary>Reads one scalar field of a generated message without boxing: presence, then the value as bits or a string.</summary>
internal sealed class FieldReader
{
    private static readonly ConcurrentDictionary<FieldDescriptor, FieldReader?> s_cache = new();

    private FieldReader(Func<IMessage, bool>? has, Func<IMessage, long>? bits, Func<IMessage, string>? text)
    {
        Has = has;
        Bits = bits;
        Text = text;
    }

    /// <summary>Presence, for fields that track it.</summary>
    public Func<IMessage, bool>? Has { get; }

    /// <summary>Numeric, enum and bool fields as a 64-bit pattern.</summary>
    public Func<IMessage, long>? Bits { get; }

    /// <summary>String fields.</summary>
    public Func<IMessage, string>? Text { get; }

    /// <summary>A reader for the field, or null when the field is not a plain scalar of a generated class.</summary>
    public static FieldReader? For(FieldDescriptor field) => s_cache.GetOrAdd(field, Create);

    private static FieldReader? Create(FieldDescriptor field)
    {
        var clr = field.ContainingType.ClrType;
        if (clr is null || field.IsRepeated || field.IsMap || field.FieldType is FieldType.Message or FieldType.Group or FieldType.Bytes)
        {
            return null;
        }

        var property = clr.GetProperty(field.PropertyName);
        if (property is null)
        {
            return null;
        }

        var m = Expression.Parameter(typeof(IMessage), "m");
        var typed = Expression.Convert(m, clr);
        Func<IMessage, bool>? has = null;
        if (field.HasPresence)
        {
            var hasProperty = clr.GetProperty("Has" + field.PropertyName);
            if (hasProperty is null)
            {
                return null;
            }

            has = Expression.Lambda<Func<IMessage, bool>>(Expression.Property(typed, hasProperty), m).Compile();
        }

        var value = Expression.Property(typed, property);
        if (field.FieldType == FieldType.String)
        {
            return new FieldReader(has, null, Expression.Lambda<Func<IMessage, string>>(value, m).Compile());
        }

        Expression asLong = field.FieldType switch
        {
            FieldType.Enum => Expression.Convert(Expression.Convert(value, typeof(int)), typeof(long)),
            FieldType.Bool => Expression.Condition(value, Expression.Constant(1L), Expression.Constant(0L)),
            _ => Expression.Convert(value, typeof(long)),
        };
        return new FieldReader(has, Expression.Lambda<Func<IMessage, long>>(asLong, m).Compile(), null);
    }

    /// <summary>Reads the field as a state value of <paramref name="type"/>; unset when absent (or default without presence).</summary>
    public StateValue Read(IMessage message, StateValueType type)
    {
        if (Has is not null && !Has(message))
        {
            return default;
        }

        if (Text is not null)
        {
            var s = Text(message);
            return Has is null && s.Length == 0 ? default : StateValue.FromString(s);
        }

        var bits = Bits!(message);
        if (Has is null && bits == 0)
        {
            return default;
        }

        return type.Kind switch
        {
            ValueKind.Enum => StateValue.FromEnum(type.EnumType!, (int)bits),
            ValueKind.Bool => StateValue.FromBool(bits != 0),
            ValueKind.Int => StateValue.FromInt(bits),
            ValueKind.UInt => StateValue.FromUInt((ulong)bits),
            ValueKind.IPv4 => StateValue.FromIPv4((uint)bits),
            ValueKind.Mac => StateValue.FromMac((ulong)bits),
            _ => throw new InvalidOperationException($"Unsupported value kind {type.Kind}."),
        };
    }
}
