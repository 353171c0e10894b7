// Prints the worked example of docs/protocol.md: real frames of a join, a first exchange and a compact hello, in hex.
using System.Text;
using Google.Protobuf;
using Kraken.Net.Sync;
using Kraken.Net.Sync.Proto;
using Kraken.Tree.State;

namespace Kraken.Sync.Bench;

internal static class Example
{
    /// <summary>The ids each side gives the adjacency at join (random in the protocol, fixed here).</summary>
    private const uint ChildAdjacencyId = 0x2f6a91c4;
    private const uint ParentAdjacencyId = 0x5e13b7d2;

    public static void Run()
    {
        var secret = Encoding.ASCII.GetBytes("example-cluster-join-secret-0001");
        var parent = NodeId.Parse("123e4567-e89b-12d3-a456-426655440000", null);
        var child = NodeId.Parse("0b0e5f4c-54a2-4c1e-9a55-3f1f6d2c7a10", null);
        UInt128 Wire(NodeId id) => new(id.High, id.Low);
        var childNonce = Convert.FromHexString("00112233445566778899aabbccddeeff");
        var parentNonce = Convert.FromHexString("f0e1d2c3b4a5968778695a4b3c2d1e0f");
        using var joinMac = new FrameMac(SyncKeys.DeriveJoinKey(secret));
        var adjacencyKey = SyncKeys.DeriveAdjacencyKey(secret, childNonce, parentNonce, Wire(child), Wire(parent));
        using var mac = new FrameMac(adjacencyKey);

        Dump("1. child -> parent, JoinRequest (no proof yet), join key", FrameCodec.ToArray(MessageType.JoinRequest, Wire(child), 1,
            new JoinRequest { ChildId = ByteString.CopyFrom(child.ToByteArray()), ChildNonce = ByteString.CopyFrom(childNonce), DatagramPort = 31415, AdjacencyId = ChildAdjacencyId }.ToByteArray(), joinMac));
        Dump("2. parent -> child, JoinChallenge, join key", FrameCodec.ToArray(MessageType.JoinChallenge, Wire(parent), 1,
            new JoinChallenge { ParentId = ByteString.CopyFrom(parent.ToByteArray()), ParentNonce = ByteString.CopyFrom(parentNonce) }.ToByteArray(), joinMac));
        var proof = SyncKeys.ComputeProof(secret, parentNonce, childNonce, Wire(child), Wire(parent));
        Dump("3. child -> parent, JoinRequest with proof, join key", FrameCodec.ToArray(MessageType.JoinRequest, Wire(child), 2,
            new JoinRequest { ChildId = ByteString.CopyFrom(child.ToByteArray()), ChildNonce = ByteString.CopyFrom(childNonce), Proof = ByteString.CopyFrom(proof), DatagramPort = 31415, AdjacencyId = ChildAdjacencyId }.ToByteArray(), joinMac));
        var cfg = NodeRecord.Empty(child).Edit().Set("/Nodename", "kr1").Set("/ParentId", parent.ToString()).Set("/PhysState", "POWER_ON").Build();
        var cfgBytes = NodeRecordCodec.ToProto(cfg);
        cfgBytes.Version = 3;
        var dsc = NodeRecord.Empty(child).Edit().Set("/RunState", "SYNC").Build();
        var dscBytes = NodeRecordCodec.ToProto(dsc);
        dscBytes.Version = 7;
        var accept = new JoinAccept { HelloIntervalMs = 5000, DeadIntervalMs = 20000, Dsc = dscBytes.ToByteString(), AdjacencyId = ParentAdjacencyId };
        accept.Cfg.Add(cfgBytes.ToByteString());
        Dump("4. parent -> child, JoinAccept, adjacency key", FrameCodec.ToArray(MessageType.JoinAccept, Wire(parent), 1, accept.ToByteArray(), mac));

        var childDsc = NodeRecordCodec.ToProto(dsc.Edit().Set("/PhysState", "POWER_ON").Build());
        childDsc.Version = 2;
        var delta = new Delta { DeltaId = 1, View = View.Dsc };
        delta.Records.Add(childDsc.ToByteString());
        Dump("5. child -> parent (UDP), Delta of its Dsc, adjacency key", FrameCodec.ToArray(MessageType.Delta, Wire(child), 1, delta.ToByteArray(), mac));
        var ack = new Ack();
        ack.DeltaIds.Add(1);
        Dump("6. parent -> child (UDP), Ack", FrameCodec.ToArray(MessageType.Ack, Wire(parent), 2, ack.ToByteArray(), mac));

        VersionDigest digest = default;
        digest.Add(Wire(child), 2);
        var hello = new byte[CompactHello.Size];
        CompactHello.Write(hello, ParentAdjacencyId, 2, digest.Short(2), false, Wire(child), mac);
        Console.WriteLine($"7. child -> parent (UDP), compact Hello: digest of (child, Dsc v2) = {digest.Value:x16}, count {digest.Count}, short digest at sequence 2 = {digest.Short(2):x8}: {hello.Length} bytes");
        Console.WriteLine($"  marker  {hello[0]:x2}");
        Console.WriteLine($"  adj id  {Convert.ToHexString(hello, 1, 4).ToLowerInvariant()}");
        Console.WriteLine($"  seq lo  {Convert.ToHexString(hello, 5, 4).ToLowerInvariant()}");
        Console.WriteLine($"  digest  {Convert.ToHexString(hello, 9, 4).ToLowerInvariant()}");
        Console.WriteLine($"  mac     {Convert.ToHexString(hello, 13, CompactHello.MacSize).ToLowerInvariant()}");
        Console.WriteLine($"  (MAC input: {hello[0]:x2} {Convert.ToHexString(hello, 1, 4).ToLowerInvariant()} {2UL:x16} {Convert.ToHexString(hello, 9, 4).ToLowerInvariant()} {Convert.ToHexString(child.ToByteArray()).ToLowerInvariant()})");
        Console.WriteLine($"adjacency key: {Convert.ToHexString(adjacencyKey).ToLowerInvariant()}");
    }

    private static void Dump(string title, byte[] frame)
    {
        Console.WriteLine($"{title}: {frame.Length} bytes");
        Console.WriteLine($"  header  {Convert.ToHexString(frame, 0, FrameHeader.Size).ToLowerInvariant()}");
        Console.WriteLine($"  payload {Convert.ToHexString(frame, FrameHeader.Size, frame.Length - FrameHeader.Overhead).ToLowerInvariant()}");
        Console.WriteLine($"  mac     {Convert.ToHexString(frame, frame.Length - FrameHeader.MacSize, FrameHeader.MacSize).ToLowerInvariant()}");
    }
}
