// The 25-byte steady-state hello (docs/protocol.md, "Compact hello"): written, read and verified without allocating.
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Kraken.Net.Sync;

/// <summary>The fields of a compact hello as read off the wire, before the MAC is checked.</summary>
/// <param name="AdjacencyId">The receiver's id of the adjacency, assigned by the receiver at join.</param>
/// <param name="SequenceLow">Low 32 bits of the sender's 64-bit sequence number on the adjacency.</param>
/// <param name="Digest">The 32-bit digest of the sender's advertised versions (<see cref="VersionDigest.Short(ulong)"/>).</param>
/// <param name="Pending">The sender has deltas not yet sent or acknowledged: a digest mismatch is then expected.</param>
public readonly record struct CompactHelloFields(uint AdjacencyId, uint SequenceLow, uint Digest, bool Pending);

/// <summary>
/// Wire form, integers big-endian:
/// <c>marker(1)=0x68|P | adjacency id(4) | sequence low 32 bits(4) | digest(4) | MAC(12)</c>, 25 bytes, where P
/// (bit 0) is the pending flag and the MAC is HMAC-SHA256 under the adjacency key, truncated to 96 bits, over
/// <c>marker | adjacency id | the whole 64-bit sequence | digest | sender node id</c>. The high half of the
/// sequence and the sender id are not sent but are authenticated, as IPsec does with extended sequence numbers:
/// the receiver supplies them (from its replay window and its adjacency), so a hello verifies only for the
/// right sequence block and only coming from the peer (a hello reflected back to its sender fails). The marker
/// can never start a full frame (<see cref="FrameHeader.Magic"/> is 0x4B), so a receiver tells the two apart by
/// the first byte.
/// </summary>
public static class CompactHello
{
    /// <summary>Bytes of every compact hello.</summary>
    public const int Size = 1 + 4 + 4 + 4 + MacSize;

    /// <summary>MAC bytes: HMAC-SHA256 truncated to 96 bits (HMAC-SHA256-96).</summary>
    public const int MacSize = 12;

    /// <summary>First byte: ASCII 'h', "compact hello, version 1", with the pending flag clear.</summary>
    public const byte Marker = 0x68;

    /// <summary>Bit 0 of the marker: the sender has deltas not yet acknowledged.</summary>
    public const byte PendingFlag = 0x01;

    /// <summary>The bytes the MAC covers: marker, adjacency id, 64-bit sequence, digest, sender id.</summary>
    private const int MacInputSize = 1 + 4 + 8 + 4 + 16;

    private const int Authenticated = Size - MacSize;

    /// <summary>True when <paramref name="first"/> is the first byte of a compact hello of this version.</summary>
    public static bool IsCompact(byte first) => (first & ~PendingFlag) == Marker;

    /// <summary>Writes a compact hello into <paramref name="destination"/> (at least <see cref="Size"/> bytes); returns <see cref="Size"/>.</summary>
    public static int Write(Span<byte> destination, uint adjacencyId, ulong sequence, uint digest, bool pending, UInt128 sender, FrameMac mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A compact hello needs {Size} bytes, got {destination.Length}.", nameof(destination));
        }

        var marker = (byte)(Marker | (pending ? PendingFlag : 0));
        destination[0] = marker;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], adjacencyId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)sequence);
        BinaryPrimitives.WriteUInt32BigEndian(destination[9..], digest);
        Span<byte> input = stackalloc byte[MacInputSize];
        MacInput(input, marker, adjacencyId, sequence, digest, sender);
        mac.Compute(input, destination.Slice(Authenticated, MacSize));
        return Size;
    }

    /// <summary>
    /// Reads the fields of a datagram that starts with a compact-hello marker. Throws
    /// <see cref="SyncProtocolException"/> (<see cref="DropReason.Malformed"/>) unless it is exactly
    /// <see cref="Size"/> bytes with a known marker. Nothing is authenticated yet: find the adjacency by
    /// <see cref="CompactHelloFields.AdjacencyId"/>, reconstruct the sequence, then <see cref="Verify"/>.
    /// </summary>
    public static CompactHelloFields Read(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length != Size)
        {
            SyncProtocolException.Throw(DropReason.Malformed, $"A compact hello is {Size} bytes, got {datagram.Length}.");
        }

        if (!IsCompact(datagram[0]))
        {
            SyncProtocolException.Throw(DropReason.Malformed, $"Bad compact hello marker 0x{datagram[0]:X2}.");
        }

        return new CompactHelloFields(
            BinaryPrimitives.ReadUInt32BigEndian(datagram[1..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[5..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[9..]),
            (datagram[0] & PendingFlag) != 0);
    }

    /// <summary>
    /// True when the MAC of <paramref name="datagram"/> verifies under <paramref name="mac"/> for the whole
    /// sequence number <paramref name="sequence"/> (whose low 32 bits must be those on the wire) and the
    /// adjacency's peer <paramref name="sender"/>; the compare is constant-time. False for anything that is not
    /// a well-formed compact hello.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> datagram, ulong sequence, UInt128 sender, FrameMac mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        if (datagram.Length != Size || !IsCompact(datagram[0]) || BinaryPrimitives.ReadUInt32BigEndian(datagram[5..]) != (uint)sequence)
        {
            return false;
        }

        Span<byte> input = stackalloc byte[MacInputSize];
        MacInput(input, datagram[0], BinaryPrimitives.ReadUInt32BigEndian(datagram[1..]), sequence, BinaryPrimitives.ReadUInt32BigEndian(datagram[9..]), sender);
        Span<byte> expected = stackalloc byte[MacSize];
        mac.Compute(input, expected);
        return CryptographicOperations.FixedTimeEquals(expected, datagram.Slice(Authenticated, MacSize));
    }

    private static void MacInput(Span<byte> input, byte marker, uint adjacencyId, ulong sequence, uint digest, UInt128 sender)
    {
        input[0] = marker;
        BinaryPrimitives.WriteUInt32BigEndian(input[1..], adjacencyId);
        BinaryPrimitives.WriteUInt64BigEndian(input[5..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(input[13..], digest);
        BinaryPrimitives.WriteUInt64BigEndian(input[17..], (ulong)(sender >> 64));
        BinaryPrimitives.WriteUInt64BigEndian(input[25..], (ulong)sender);
    }
}
