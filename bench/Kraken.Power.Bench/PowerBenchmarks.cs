// Micro-benchmarks: the RMCP+ packet path and the module's scheduling of a bulk run of instant calls.
using BenchmarkDotNet.Attributes;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Power.Bench;

[MemoryDiagnoser]
public class PowerBenchmarks
{
    private readonly byte[] _message = [0x81, 0x04, 0x7B, 0x20, 0x14, 0x01, 0x00, 0x01, 0x00, 0x00, 0x6A];
    private IpmiSessionKeys _keys = null!;
    private byte[] _packet = null!;
    private VirtualTimeProvider _time = null!;
    private PowerModule _module = null!;
    private ReconcileEngine _engine = null!;
    private NodeId[] _ids = null!;

    [GlobalSetup]
    public void Setup()
    {
        _keys = new IpmiSessionKeys(IpmiCipherSuite.Suite3, new byte[20], new byte[16]);
        _packet = IpmiCodec.SessionPacket(_keys, 1, 1, _message);
        var work = new WorkQueue();
        _time = new VirtualTimeProvider(work);
        var executor = new ManualExecutor(work);
        var store = new StateStore(StateSchema.Default);
        var sim = new SimPowerDriver(_time, new SimPowerOptions { OnDelay = SimDelay.Zero, OffDelay = SimDelay.Zero });
        _module = new PowerModule([sim], executor, _time, new PowerOptions { PollInterval = TimeSpan.Zero, DefaultDriverConcurrency = 64 });
        _engine = new ReconcileEngine(NodeId.FromName("parent"), store, [_module], executor, _time);
        _engine.Start();
        _ids = new NodeId[1000];
        for (var i = 0; i < _ids.Length; i++)
        {
            var id = _ids[i] = NodeId.FromName($"n{i}");
            store.Create(NodeRecord.Empty(id, store.Schema).Edit().Set("/Extensions/Power/Driver", "sim").Set("/Extensions/Power/Address", $"bmc{i}").Build());
        }

        _time.RunUntilIdle();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.Dispose();
        _keys.Dispose();
    }

    /// <summary>Build one encrypted, authenticated Get Chassis Status reply (suite 3).</summary>
    [Benchmark]
    public byte[] EncodeSessionPacket() => IpmiCodec.SessionPacket(_keys, 1, 1, _message);

    /// <summary>Verify and decrypt it.</summary>
    [Benchmark]
    public byte[] DecodeSessionPacket() => IpmiCodec.ReadSessionPacket(_packet, _keys, 1);

    /// <summary>A bulk status run over 1,000 nodes whose driver answers at once: the module's own cost per node.</summary>
    [Benchmark(OperationsPerInvoke = 1000)]
    public int BulkStatus1000()
    {
        var task = _module.RunBulkAsync(_ids, PowerAction.Status, new BulkPowerOptions { ReportDiscoveries = false });
        _time.RunUntilIdle();
        return task.GetAwaiter().GetResult().Ok;
    }
}
