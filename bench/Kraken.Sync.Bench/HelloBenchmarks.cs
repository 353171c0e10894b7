// Micro-benchmarks of the hello hot path: encode with MAC, and verify + replay check + decode, for the compact
// hello the steady state sends and for the full-frame hello kept for peers that gave no adjacency id.
using BenchmarkDotNet.Attributes;
using Kraken.Net.Sync;
using Kraken.Tree.Sync;

namespace Kraken.Sync.Bench;

[MemoryDiagnoser]
public class HelloBenchmarks
{
    private readonly FrameMac _mac = new(new byte[32]);
    private readonly byte[] _frame = new byte[128];
    private readonly byte[] _compact = new byte[CompactHello.Size];
    private readonly ReplayWindow _window = new();
    private ulong _sequence;
    private int _length;
    private SyncTree? _pair;

    [GlobalSetup]
    public void Setup()
    {
        Span<byte> payload = stackalloc byte[HelloCodec.MaxSize];
        var n = HelloCodec.Write(payload, new HelloPayload(0x1234_5678_9ABC_DEF0, 3000, false));
        _length = FrameCodec.Write(_frame, MessageType.Hello, 0, 42, 1, payload[..n], _mac);
        CompactHello.Write(_compact, 0x0A0B0C0D, (1UL << 32) + 5, 0x9ABC_DEF0, false, 42, _mac);
        _window.Accept((1UL << 32) + 4);
        _pair = new SyncTree(SyncProfile.Kraken, 1, 0);
    }

    [Benchmark]
    public int EncodeCompactHello()
    {
        Span<byte> frame = stackalloc byte[CompactHello.Size];
        var sequence = ++_sequence;
        return CompactHello.Write(frame, 0x0A0B0C0D, sequence, VersionDigest.Short(0x1234_5678_9ABC_DEF0, 3000, sequence), false, 42, _mac);
    }

    [Benchmark]
    public bool ReceiveCompactHello()
    {
        var fields = CompactHello.Read(_compact);
        var sequence = _window.Reconstruct(fields.SequenceLow);
        if (!CompactHello.Verify(_compact, sequence, 42, _mac))
        {
            throw new InvalidOperationException("bad MAC");
        }

        return _window.IsFresh(sequence) && fields.Digest == VersionDigest.Short(0x1234_5678_9ABC_DEF0, 3000, sequence);
    }

    [Benchmark]
    public int EncodeFullFrameHello()
    {
        Span<byte> payload = stackalloc byte[HelloCodec.MaxSize];
        Span<byte> frame = stackalloc byte[128];
        var n = HelloCodec.Write(payload, new HelloPayload(0x1234_5678_9ABC_DEF0, 3000, false));
        return FrameCodec.Write(frame, MessageType.Hello, 0, 42, ++_sequence, payload[..n], _mac);
    }

    [Benchmark]
    public HelloPayload ReceiveFullFrameHello()
    {
        var frame = _frame.AsSpan(0, _length);
        var header = FrameCodec.ReadDatagram(frame, 1 << 20);
        if (!FrameCodec.Verify(frame, _mac))
        {
            throw new InvalidOperationException("bad MAC");
        }

        _window.IsFresh(header.Sequence);
        return HelloCodec.Read(FrameCodec.Payload(frame, header));
    }

    /// <summary>One hello interval of a root and one child: two compact hellos sent, delivered, verified and handled.</summary>
    [Benchmark]
    public void EngineHelloRound() => _pair!.Time.Advance(_pair.Options.HelloInterval);
}
