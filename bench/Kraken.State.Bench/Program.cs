// State-model benchmarks: `memory [--nodes N]` prints bytes per node per view; anything else runs BenchmarkDotNet.
using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Kraken.Tree.State;

namespace Kraken.State.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "memory")
        {
            var n = args.Length > 2 && args[1] == "--nodes" ? int.Parse(args[2], CultureInfo.InvariantCulture) : 100_000;
            MemoryScenario.Run(n);
            return 0;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}

/// <summary>Builds typical nodes and fills a store with both views, as a root daemon holds them.</summary>
internal static class Nodes
{
    public static NodeRecord Typical(StateSchema schema, int n, NodeId parent)
    {
        var id = new NodeId(0x4000UL, 0x8000_0000_0000_0000UL | (uint)n);
        return NodeRecord.Empty(id, schema).Edit()
            .Set("/Nodename", string.Create(CultureInfo.InvariantCulture, $"n{n:D6}"))
            .Set("/RunState", "SYNC")
            .Set("/PhysState", "POWER_ON")
            .Set("/Arch", "amd64")
            .Set("/Platform", "qemu")
            .Set(schema.ParentId, StateValue.FromNodeId(parent))
            .Set("/Extensions/IPv4/Interfaces/kraken/Device", "eth0")
            .Set(schema.Resolve("/Extensions/IPv4/Interfaces/kraken/Mac"), StateValue.FromMac(0x5254_0000_0000UL | (uint)n))
            .Set(schema.Resolve("/Extensions/IPv4/Interfaces/kraken/Ip"), StateValue.FromIPv4(0xC612_0000u + (uint)n))
            .Set("/Extensions/IPv4/Interfaces/kraken/Prefix", "15")
            .Set("/Extensions/Pxe/Method", "IPXE")
            .Set("/Extensions/Pxe/State", "COMP")
            .Set("/Extensions/Power/Driver", "ipmi")
            .Set(schema.Resolve("/Extensions/Power/Address"), StateValue.FromString(StateValue.FormatIPv4(0xC613_0000u + (uint)n)))
            .Set("/Extensions/Power/Credential", "bmc-default")
            .Set("/Services/node-exporter/State", "RUN")
            .Build();
    }

    public static NodeRecord Discovered(StateSchema schema, NodeRecord cfg) =>
        NodeRecord.Empty(cfg.Id, schema).Edit()
            .Set("/PhysState", "POWER_ON")
            .Set("/RunState", "SYNC")
            .Set("/Extensions/Pxe/State", "COMP")
            .Set(schema.Resolve("/Extensions/IPv4/Interfaces/kraken/Ip"), cfg.Get("/Extensions/IPv4/Interfaces/kraken/Ip"))
            .Set("/Services/node-exporter/State", "RUN")
            .Build();
}

internal static class MemoryScenario
{
    public static void Run(int n)
    {
        var schema = StateSchema.CreateDefault();
        var parents = Enumerable.Range(0, 64).Select(_ => NodeId.NewRandom()).ToArray();
        var warm = new StateStore(schema);
        warm.Create(Nodes.Typical(schema, 0, parents[0]));

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var sw = Stopwatch.StartNew();
        var store = new StateStore(schema);
        store.Batch(s =>
        {
            for (var i = 0; i < n; i++)
            {
                var cfg = Nodes.Typical(schema, i, parents[i % parents.Length]);
                s.Create(cfg, Nodes.Discovered(schema, cfg));
            }
        });
        sw.Stop();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var bytes = after - before;
        var sample = store.Get(StateView.Cfg, store.Ids.First())!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"nodes:                      {n:N0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"values per Cfg record:      {sample.Values().Count()}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"protobuf bytes per Cfg:     {NodeRecordCodec.ToBytes(sample).Length}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"heap for both views:        {bytes / 1048576.0:F1} MiB"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bytes per node (Cfg+Dsc):   {bytes / (double)n:F0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bytes per node per view:    {bytes / (double)n / 2:F0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"build and store time:       {sw.Elapsed.TotalMilliseconds:F0} ms"));
        GC.KeepAlive(store);
        GC.KeepAlive(warm);
    }
}

[MemoryDiagnoser]
public class StateAccessBenchmarks
{
    private readonly StateSchema _schema = StateSchema.CreateDefault();
    private NodeRecord _record = null!;
    private StateUrl _phys = null!;
    private StateUrl _pxe = null!;
    private StateUrl _ip = null!;
    private StateStore _store = null!;
    private byte[] _bytes = null!;
    private int _flip;

    [GlobalSetup]
    public void Setup()
    {
        _record = Nodes.Typical(_schema, 1, NodeId.NewRandom());
        _phys = _schema.PhysState;
        _pxe = _schema.Resolve("/Extensions/Pxe/State");
        _ip = _schema.Resolve("/Extensions/IPv4/Interfaces/kraken/Ip");
        _store = new StateStore(_schema);
        _store.Create(_record);
        _bytes = NodeRecordCodec.ToBytes(_record);
    }

    [Benchmark]
    public StateValue GetCoreField() => _phys.Get(_record);

    [Benchmark]
    public StateValue GetExtensionField() => _pxe.Get(_record);

    [Benchmark]
    public StateValue GetMapEntryField() => _ip.Get(_record);

    [Benchmark]
    public StateUrl ResolveCachedUrl() => _schema.Resolve("/Extensions/IPv4/Interfaces/kraken/Ip");

    [Benchmark]
    public NodeRecord StoreSetCoreField() =>
        _store.Set(StateView.Dsc, _record.Id, _phys, StateValue.FromEnum(EnumTypes.PhysState, (_flip++ & 1) == 0 ? 1 : 2));

    [Benchmark]
    public NodeRecord StoreSetExtensionField() =>
        _store.Set(StateView.Dsc, _record.Id, _pxe, StateValue.FromEnum(_pxe.ValueType!.EnumType!, (_flip++ & 1) == 0 ? 1 : 2));

    [Benchmark]
    public byte[] EncodeRecord() => NodeRecordCodec.ToBytes(_record);

    [Benchmark]
    public NodeRecord DecodeRecord() => NodeRecordCodec.FromBytes(_bytes, _schema);
}
