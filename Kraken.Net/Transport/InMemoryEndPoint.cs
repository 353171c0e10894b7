// An address on the in-memory network: a 128-bit id (the simulator uses node ids).
using System.Net;

namespace Kraken.Net.Transport;

public sealed class InMemoryEndPoint(UInt128 address) : EndPoint, IEquatable<InMemoryEndPoint>
{
    public UInt128 Address { get; } = address;

    public bool Equals(InMemoryEndPoint? other) => other is not null && other.Address == Address;

    public override bool Equals(object? obj) => obj is InMemoryEndPoint other && Equals(other);

    public override int GetHashCode() => Address.GetHashCode();

    public override string ToString() => $"mem:{Address:x32}";
}
