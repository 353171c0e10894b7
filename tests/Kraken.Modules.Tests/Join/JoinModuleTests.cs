// The join step in the realistic module set: plans from cold iron to SYNC, the sync engine's admission confirming
// it, a child that never joins, and a dead child recovered through power; on the real engines and a virtual clock.
using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using Kraken.Modules.Join;
using Kraken.Modules.Power;
using Kraken.Modules.Pxe;
using Kraken.Modules.Tests.Pxe.Boot;
using Kraken.Net.Execution;
using Kraken.Net.Transport;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Modules.Tests.Join;

public sealed class JoinModuleTests : IAsyncDisposable
{
    private static readonly byte[] s_secret = Encoding.ASCII.GetBytes("join-module-test-secret-0123456789");
    private static readonly PhysicalAddress s_mac = PhysicalAddress.Parse("52-54-00-18-00-01");
    private static readonly IPAddress s_ip = IPAddress.Parse("198.18.0.11");

    private readonly VirtualTimeProvider _time = new();
    private readonly ManualExecutor _executor;
    private readonly StateStore _store = BootNodes.Store();
    private readonly BootNodeDirectory _nodes;
    private readonly SimPowerDriver _power;
    private readonly InMemoryNetwork _network;
    private readonly List<IAsyncDisposable> _disposables = [];
    private IReadOnlyList<IReconcileModule> _modules = [];
    private ReconcileEngine? _engine;
    private SyncEngine? _parentSync;
    private SyncEngine? _childSync;

    public JoinModuleTests()
    {
        _executor = new ManualExecutor(_time.Work);
        _nodes = BootNodes.Directory(_store);
        _power = new SimPowerDriver(_time, new SimPowerOptions { OnDelay = SimDelay.Fixed(TimeSpan.FromSeconds(2)), OffDelay = SimDelay.Fixed(TimeSpan.FromSeconds(1)) });
        _network = new InMemoryNetwork(_time, _executor, 1);
    }

    private ReconcileEngine Engine => _engine!;

    private PxeModule Pxe => _modules.OfType<PxeModule>().Single();

    public async ValueTask DisposeAsync()
    {
        foreach (var engine in new[] { _childSync, _parentSync })
        {
            if (engine is not null)
            {
                var stop = engine.DisposeAsync();
                _time.RunUntilIdle();
                await stop;
            }
        }

        foreach (var d in _disposables)
        {
            await d.DisposeAsync();
        }

        _engine?.Dispose();
        _nodes.Dispose();
    }

    private static InMemoryEndPoint EndPoint(NodeId id) => new(new UInt128(id.High, id.Low));

    /// <summary>The parent's realistic set (power over the simulated driver, PXE, join), its engine and its sync engine.</summary>
    private void StartParent(JoinModuleOptions? join = null, ReconcileOptions? reconcile = null)
    {
        var options = ModuleSetOptions.Realistic with { Join = join ?? new JoinModuleOptions() };
        _modules = ModuleSet.Create(
            options,
            power => new PowerModule([_power], _executor, _time, power),
            pxe => new PxeModule(_nodes, pxe));
        _engine = new ReconcileEngine(BootNodes.Parent, _store, _modules, _executor, _time, reconcile);
        _engine.Start();
        var transport = _network.CreateTransport(EndPoint(BootNodes.Parent));
        _disposables.Add(transport);
        _parentSync = new SyncEngine(SyncOptions.ForProfile(SyncProfile.Kraken, BootNodes.Parent, s_secret), _store, transport, _time, _executor);
        _parentSync.Start();
        _time.RunUntilIdle();
    }

    /// <summary>A child of the parent whose Cfg says POWER_ON and SYNC, with an empty Dsc.</summary>
    private NodeId AddChild(string? phys = null)
    {
        var id = BootNodes.Add(_store, "n1", "52:54:00:18:00:01", "198.18.0.11", physDsc: phys);
        _store.Set(StateView.Cfg, id, "/PhysState", "POWER_ON");
        _store.Set(StateView.Cfg, id, "/RunState", "SYNC");
        _store.Set(StateView.Cfg, id, "/Extensions/Power/Driver", "sim");
        _time.RunUntilIdle();
        return id;
    }

    /// <summary>The child's daemon starts (its kernel is up) and joins the parent.</summary>
    private void BootChildDaemon(NodeId id)
    {
        var transport = _network.CreateTransport(EndPoint(id));
        _disposables.Add(transport);
        _childSync = new SyncEngine(SyncOptions.ForProfile(SyncProfile.Kraken, id, s_secret) with { Parents = [EndPoint(BootNodes.Parent)] }, new StateStore(), transport, _time, _executor);
        _childSync.Start();
    }

    private string Dsc(NodeId id, string url) => _store.GetRequired(StateView.Dsc, id).Get(url).ToString();

    private string[] PlanNow(NodeId id) => [.. Engine.PlanNow(id)!.Steps.Select(s => s.Mutation.Id)];

    private string? Step(NodeId id) => Engine.GetState(id)?.Step?.Mutation.Id;

    private void RunUntil(Func<bool> condition, TimeSpan limit, string what) =>
        Assert.True(_time.RunUntil(condition, limit), $"not within {limit} of virtual time: {what}");

    /// <summary>What the parent's services see while the node's firmware boots: the DHCP ACK, then both boot files.</summary>
    private void FirmwareBoots(NodeId id)
    {
        Pxe.ObserveDhcp(s_mac, id, acked: true, bootClient: true);
        Pxe.ObserveFetch(id, s_ip, "vmlinuz", completed: true);
        Pxe.ObserveFetch(id, s_ip, "initrd.img", completed: true);
    }

    [Fact]
    public void Declares_INIT_to_SYNC_after_a_network_boot_with_power_and_a_way_back()
    {
        var d = JoinModule.CreateDeclaration(new JoinModuleOptions());
        var m = Assert.Single(d.Mutations);
        Assert.Equal(JoinModule.InitToSync, m.Id);
        Assert.Equal([new MutatedUrl("/RunState", "INIT", "SYNC")], m.Mutates);
        Assert.Equal([new UrlValue("/PhysState", "POWER_ON"), new UrlValue("/Extensions/Pxe/State", "COMP")], m.Requires);
        Assert.Equal(MutationContext.Child, m.Context);
        Assert.Equal(new UrlValue("/PhysState", "PHYS_HANG"), m.FailTo);
        Assert.Equal(TimeSpan.FromMinutes(5), m.Timeout);
        Assert.Equal(["SYNC", "ERROR"], Assert.Single(d.Discoverables).Values);
        Assert.Throws<ArgumentException>(() => JoinModule.CreateDeclaration(new JoinModuleOptions { Timeout = TimeSpan.Zero }));
    }

    [Fact]
    public void The_set_fits_the_join_step_to_what_else_it_holds()
    {
        static MutationDeclaration Join(ModuleSetOptions o) => ModuleSet.Declarations(o).Single(d => d.Name == "join").Mutations.Single();

        // No PXE: the node boots by itself (from disk) and its daemon joins; power is still required when controlled.
        var powerOnly = Join(new ModuleSetOptions { Power = new PowerOptions() });
        Assert.Equal(JoinModule.UnknownToSync, powerOnly.Id);
        Assert.Equal([new UrlValue("/PhysState", "POWER_ON")], powerOnly.Requires);

        // PXE without power control: nothing to power, a failed join goes back to PXE NONE.
        var pxeOnly = Join(new ModuleSetOptions { Pxe = new PxeModuleOptions { RequirePowerOn = false } });
        Assert.Equal([new UrlValue("/Extensions/Pxe/State", "COMP")], pxeOnly.Requires);
        Assert.Equal(new UrlValue("/Extensions/Pxe/State", "NONE"), pxeOnly.FailTo);

        // Neither: the step waits for a join and has nothing to fall back to.
        var bare = Join(new ModuleSetOptions());
        Assert.Empty(bare.Requires);
        Assert.Null(bare.FailTo);
    }

    [Fact]
    public void Declarations_and_created_modules_give_the_same_graph()
    {
        StartParent();
        Assert.Equal(ModuleSet.Graph(ModuleSetOptions.Realistic).ToJson(), Engine.Graph.ToJson());
        Assert.Equal(["power", "pxe", "join"], _modules.Select(m => m.Declaration.Name));
    }

    [Theory]
    [InlineData(null, null, null, "UKtoOFF OFFtoON NONEtoWAIT WAITtoINIT INITtoCOMP INITtoSYNC")]
    [InlineData("POWER_OFF", null, null, "OFFtoON NONEtoWAIT WAITtoINIT INITtoCOMP INITtoSYNC")]
    [InlineData("POWER_ON", "WAIT", null, "WAITtoINIT INITtoCOMP INITtoSYNC")]
    [InlineData("POWER_ON", "COMP", "INIT", "INITtoSYNC")]
    [InlineData("POWER_ON", "COMP", "SYNC", "")]
    [InlineData("POWER_ON", "COMP", "ERROR", "ONtoOFF OFFtoON NONEtoWAIT WAITtoINIT INITtoCOMP INITtoSYNC")]
    [InlineData("PHYS_HANG", null, null, "HANGtoON NONEtoWAIT WAITtoINIT INITtoCOMP INITtoSYNC")]
    public void Plans_from_what_the_parent_knows_to_SYNC(string? phys, string? pxe, string? run, string expected)
    {
        StartParent();
        Engine.Freeze();
        var id = AddChild();
        var dsc = _store.GetRequired(StateView.Dsc, id).Edit();
        foreach (var (url, value) in new[] { ("/PhysState", phys), ("/Extensions/Pxe/State", pxe), ("/RunState", run) })
        {
            if (value is not null)
            {
                dsc.Set(url, value);
            }
        }

        _store.Replace(StateView.Dsc, dsc.Build());
        _time.RunUntilIdle();
        Assert.Equal(expected, string.Join(' ', PlanNow(id)));
    }

    [Fact]
    public void A_cold_node_is_powered_booted_and_joined_and_the_admission_confirms_the_step()
    {
        StartParent();
        var id = AddChild();
        RunUntil(() => Dsc(id, "/Extensions/Pxe/State") == "WAIT", TimeSpan.FromMinutes(1), "powered on and registered");
        Assert.Equal(PowerStatus.On, _power.GetState(id));

        FirmwareBoots(id);
        _time.RunUntilIdle();
        Assert.Equal("COMP", Dsc(id, "/Extensions/Pxe/State"));
        Assert.Equal(JoinModule.InitToSync, Step(id));
        Assert.Equal(ReconcileStatus.Running, Engine.GetState(id)!.Status);

        // The kernel runs; the child's daemon joins; the parent's sync engine admits it and writes SYNC.
        _time.Advance(TimeSpan.FromSeconds(20));
        BootChildDaemon(id);
        RunUntil(() => Engine.GetState(id)!.Status == ReconcileStatus.Complete, TimeSpan.FromMinutes(1), "joined");
        Assert.Equal("SYNC", Dsc(id, "/RunState"));
        Assert.Equal(0, Engine.GetState(id)!.Attempts);
    }

    [Fact]
    public void A_child_that_never_joins_hangs_after_the_timeout_and_is_power_cycled_and_booted_again()
    {
        StartParent(new JoinModuleOptions { Timeout = TimeSpan.FromSeconds(90) });
        var id = AddChild();
        RunUntil(() => Dsc(id, "/Extensions/Pxe/State") == "WAIT", TimeSpan.FromMinutes(1), "registered");
        FirmwareBoots(id);
        _time.RunUntilIdle();
        Assert.Equal(JoinModule.InitToSync, Step(id));

        // No daemon ever joins: at 90 s the step fails to PHYS_HANG and the node is cycled and registered again.
        _time.Advance(TimeSpan.FromSeconds(89));
        Assert.Equal(JoinModule.InitToSync, Step(id));
        RunUntil(() => Engine.GetState(id)!.Attempts == 1, TimeSpan.FromSeconds(2), "the join step timed out");
        Assert.Contains("INITtoSYNC (join) timed out", Engine.GetState(id)!.LastFailure, StringComparison.Ordinal);
        RunUntil(() => Dsc(id, "/Extensions/Pxe/State") == "WAIT" && Step(id) == PxeModule.WaitToInit, TimeSpan.FromMinutes(2), "cycled and registered again");
        Assert.Equal("POWER_ON", Dsc(id, "/PhysState"));
    }

    [Fact]
    public void A_dead_child_is_marked_ERROR_then_powered_off_on_booted_and_joined_again()
    {
        StartParent();
        var id = AddChild();
        RunUntil(() => Dsc(id, "/Extensions/Pxe/State") == "WAIT", TimeSpan.FromMinutes(1), "registered");
        FirmwareBoots(id);
        BootChildDaemon(id);
        RunUntil(() => Engine.GetState(id)!.Status == ReconcileStatus.Complete, TimeSpan.FromMinutes(1), "joined");

        // Past the adjacency's first frames, while its dead interval is still stretched for a link not yet known
        // to be clean (protocol.md section 10); then the child's host dies without a word: silent on the network,
        // its power still on.
        _time.Advance(_parentSync!.Options.HelloInterval * (SyncOptions.LossWarmUpFrames + 2));
        Assert.Equal("SYNC", Dsc(id, "/RunState"));
        _network.Crash(EndPoint(id));
        RunUntil(() => Dsc(id, "/RunState") == "ERROR", TimeSpan.FromMinutes(1), "declared dead");
        RunUntil(() => Step(id) == PowerModule.OffToOn || Step(id) == PxeModule.NoneToWait, TimeSpan.FromMinutes(1), "powered off and on again");
        Assert.Equal("ONtoOFF", Engine.GetState(id)!.Plan!.Steps[0].Mutation.Id);
        RunUntil(() => Dsc(id, "/Extensions/Pxe/State") == "WAIT", TimeSpan.FromMinutes(1), "registered again");

        // It boots again and its fresh daemon re-joins: SYNC again.
        var old = _childSync!;
        var stop = old.DisposeAsync();
        _time.RunUntilIdle();
        Assert.True(stop.IsCompleted);
        FirmwareBoots(id);
        BootChildDaemon(id);
        RunUntil(() => Engine.GetState(id)!.Status == ReconcileStatus.Complete && Dsc(id, "/RunState") == "SYNC", TimeSpan.FromMinutes(1), "joined again");
    }
}
