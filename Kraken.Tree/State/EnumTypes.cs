// Maps generated CLR enums to their protobuf descriptors, which carry the wire names (POWER_ON).
using System.Collections.Concurrent;
using Google.Protobuf.Reflection;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.State;

public static class EnumTypes
{
    private static readonly ConcurrentDictionary<Type, EnumDescriptor> s_byClrType = new();

    static EnumTypes()
    {
        Register(NodeReflection.Descriptor);
        Register(Ipv4Reflection.Descriptor);
        Register(PxeReflection.Descriptor);
        Register(PowerReflection.Descriptor);
    }

    public static EnumDescriptor RunState { get; } = NodeReflection.Descriptor.FindTypeByName<EnumDescriptor>("RunState");

    public static EnumDescriptor PhysState { get; } = NodeReflection.Descriptor.FindTypeByName<EnumDescriptor>("PhysState");

    public static EnumDescriptor ServiceState { get; } = Service.Descriptor.EnumTypes[0];

    /// <summary>Makes the enums of a generated file known to <see cref="Descriptor{T}"/>.</summary>
    public static void Register(FileDescriptor file)
    {
        foreach (var e in file.EnumTypes)
        {
            Add(e);
        }

        foreach (var m in file.MessageTypes)
        {
            AddNested(m);
        }
    }

    private static void AddNested(MessageDescriptor message)
    {
        foreach (var e in message.EnumTypes)
        {
            Add(e);
        }

        foreach (var n in message.NestedTypes)
        {
            AddNested(n);
        }
    }

    private static void Add(EnumDescriptor e)
    {
        if (e.ClrType is not null)
        {
            s_byClrType[e.ClrType] = e;
        }
    }

    public static EnumDescriptor Descriptor<T>()
        where T : struct, Enum =>
        s_byClrType.TryGetValue(typeof(T), out var d)
            ? d
            : throw new InvalidOperationException($"{typeof(T)} is not a registered protobuf enum.");

    /// <summary>The value names of an enum in declaration order.</summary>
    public static IReadOnlyList<string> Names(EnumDescriptor type) => type.Values.Select(v => v.Name).ToArray();
}
