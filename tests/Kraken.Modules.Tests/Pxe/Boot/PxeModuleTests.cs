// The PXE module on the real reconcile engine and a virtual clock, driven by fake DHCP and fetch observations.
using System.Net;
using System.Net.NetworkInformation;
using Kraken.Modules.Pxe;
using Kraken.Net.Execution;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Pxe.Boot;

public sealed class PxeModuleTests : IDisposable
{
    private static readonly PhysicalAddress s_mac = PhysicalAddress.Parse("52-54-00-18-00-01");
    private static readonly IPAddress s_ip = IPAddress.Parse("198.18.0.11");

    private readonly WorkQueue _work = new();
    private readonly VirtualTimeProvider _time;
    private readonly ManualExecutor _executor;
    private readonly StateStore _store = BootNodes.Store();
    private readonly BootNodeDirectory _nodes;
    private PxeModule? _module;
    private ReconcileEngine? _engine;

    public PxeModuleTests()
    {
        _time = new VirtualTimeProvider(_work);
        _executor = new ManualExecutor(_work);
        _nodes = BootNodes.Directory(_store);
    }

    private PxeModule Module => _module!;

    private ReconcileEngine Engine => _engine!;

    public void Dispose()
    {
        _engine?.Dispose();
        _nodes.Dispose();
    }

    private void Start(PxeModuleOptions? options = null, ReconcileOptions? reconcile = null)
    {
        _module = new PxeModule(_nodes, options);
        _engine = new ReconcileEngine(BootNodes.Parent, _store, [_module], _executor, _time, reconcile);
        _engine.Start();
        _time.RunUntilIdle();
    }

    private NodeId AddBooting(string pxeCfg = "COMP", string? phys = "POWER_ON", string name = "n1", string mac = "52:54:00:18:00:01", string ip = "198.18.0.11")
    {
        var id = BootNodes.Add(_store, name, mac, ip, physDsc: phys);
        _store.Set(StateView.Cfg, id, PxeModule.StateUrl, pxeCfg);
        _time.RunUntilIdle();
        return id;
    }

    private string Pxe(NodeId id) => _store.GetRequired(StateView.Dsc, id).Get(PxeModule.StateUrl).ToString();

    private string Run(NodeId id) => _store.GetRequired(StateView.Dsc, id).Get("/RunState").ToString();

    private void Idle() => _time.RunUntilIdle();

    [Fact]
    public void Declares_three_child_steps_that_need_power_and_fail_to_hang()
    {
        Start();
        var ids = Engine.Catalog.Mutations.Where(m => m.Module == "pxe").Select(m => m.Id).Order(StringComparer.Ordinal);
        Assert.Equal(["INITtoCOMP", "NONEtoWAIT", "WAITtoINIT"], ids);
        Assert.All(Module.Declaration.Mutations, m =>
        {
            Assert.Equal(MutationContext.Child, m.Context);
            Assert.Equal([new UrlValue("/PhysState", "POWER_ON")], m.Requires);
            Assert.Equal(new UrlValue("/PhysState", "PHYS_HANG"), m.FailTo);
        });
        var wait = Module.Declaration.Mutations.Single(m => m.Id == "WAITtoINIT");
        Assert.Contains(new MutatedUrl("/RunState", "UNKNOWN", "INIT"), wait.Mutates);
    }

    [Fact]
    public void A_boot_goes_none_wait_init_comp_on_registration_ack_and_delivered_files()
    {
        Start();
        var id = AddBooting();
        Assert.Equal("WAIT", Pxe(id));
        Assert.Equal(PxeModule.WaitToInit, Engine.GetState(id)!.Step?.Mutation.Id);

        Module.ObserveDhcp(s_mac, null, acked: true, bootClient: true);
        Idle();
        Assert.Equal("INIT", Pxe(id));
        Assert.Equal("INIT", Run(id));
        Assert.Equal(PxeModule.InitToComp, Engine.GetState(id)!.Step?.Mutation.Id);

        Module.ObserveFetch(null, s_ip, "/vmlinuz", completed: true);
        Idle();
        Assert.Equal("INIT", Pxe(id)); // the initrd is still missing
        Module.ObserveFetch(id, s_ip, "initrd.img", completed: true);
        Idle();
        Assert.Equal("COMP", Pxe(id));
        Assert.Equal(ReconcileStatus.Complete, Engine.GetState(id)!.Status);
    }

    [Fact]
    public void Offers_operating_system_leases_partial_fetches_and_other_files_change_nothing()
    {
        Start();
        var id = AddBooting();
        Module.ObserveDhcp(s_mac, id, acked: false, bootClient: true);   // an OFFER
        Module.ObserveDhcp(s_mac, id, acked: true, bootClient: false);   // an OS renewing its lease
        Module.ObserveDhcp(PhysicalAddress.Parse("52-54-00-18-00-99"), null, acked: true, bootClient: true); // a stranger
        Idle();
        Assert.Equal("WAIT", Pxe(id));

        Module.ObserveDhcp(s_mac, id, acked: true, bootClient: true);
        Module.ObserveFetch(id, s_ip, "vmlinuz", completed: true);
        Module.ObserveFetch(id, s_ip, "initrd.img", completed: false);
        Module.ObserveFetch(id, s_ip, "pxelinux.0", completed: true);
        Module.ObserveFetch(null, IPAddress.Parse("198.18.0.99"), "initrd.img", completed: true);
        Idle();
        Assert.Equal("INIT", Pxe(id));
    }

    [Fact]
    public void Files_fetched_before_the_ack_do_not_count_for_the_boot_after_it()
    {
        Start();
        var id = AddBooting();
        Module.ObserveFetch(id, s_ip, "vmlinuz", completed: true);
        Module.ObserveDhcp(s_mac, id, acked: true, bootClient: true);
        Module.ObserveFetch(id, s_ip, "initrd.img", completed: true);
        Idle();
        Assert.Equal("INIT", Pxe(id));
        Module.ObserveFetch(id, s_ip, "vmlinuz", completed: true);
        Idle();
        Assert.Equal("COMP", Pxe(id));
    }

    [Fact]
    public void A_node_that_never_asks_for_an_address_hangs_after_the_dhcp_timeout()
    {
        Start(new PxeModuleOptions { DhcpTimeout = TimeSpan.FromSeconds(30) }, new ReconcileOptions { MaxAttempts = 1 });
        var id = AddBooting();
        Assert.True(_time.RunUntil(() => _store.GetRequired(StateView.Dsc, id).PhysState == Tree.State.Proto.PhysState.PhysHang, TimeSpan.FromMinutes(2)));
        Assert.Equal(TimeSpan.FromSeconds(30), _time.Elapsed);
        Assert.Contains("WAITtoINIT", Engine.GetState(id)!.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_power_control_a_timed_out_boot_starts_again_from_none()
    {
        Start(new PxeModuleOptions { RequirePowerOn = false, FetchTimeout = TimeSpan.FromSeconds(20) });
        var id = AddBooting(phys: null);
        Assert.Equal("WAIT", Pxe(id));
        Module.ObserveDhcp(s_mac, id, acked: true, bootClient: true);
        Idle();
        Assert.Equal("INIT", Pxe(id));

        // No files arrive: after 20 s the step fails to NONE and, after its back-off, the engine registers the node again.
        Assert.True(_time.RunUntil(() => Pxe(id) == "NONE", TimeSpan.FromSeconds(21)));
        Assert.True(_time.RunUntil(() => Pxe(id) == "WAIT", TimeSpan.FromSeconds(5)), $"{Engine.GetState(id)}");
        Module.ObserveDhcp(s_mac, id, acked: true, bootClient: true);
        Module.ObserveFetch(id, s_ip, "vmlinuz", completed: true);
        Module.ObserveFetch(id, s_ip, "initrd.img", completed: true);
        Idle();
        Assert.Equal("COMP", Pxe(id));
    }

    [Fact]
    public void A_node_without_a_mac_fails_registration_at_once_with_the_reason()
    {
        Start(new PxeModuleOptions { RequirePowerOn = false }, new ReconcileOptions { MaxAttempts = 1 });
        var id = NodeId.FromName("bare");
        var cfg = NodeRecord.Empty(id, _store.Schema).Edit();
        cfg.Set(_store.Schema.ParentId, StateValue.FromNodeId(BootNodes.Parent));
        cfg.Set("/Nodename", "bare");
        cfg.Set(PxeModule.StateUrl, "COMP");
        _store.Create(cfg.Build(), NodeRecord.Empty(id, _store.Schema));
        Idle();
        Assert.Contains("no MAC and IPv4 address", Engine.GetState(id)!.LastFailure, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.Zero, _time.Elapsed);
    }

    [Fact]
    public void Registered_only_mode_answers_nodes_from_wait_on_and_the_default_answers_all()
    {
        Start(new PxeModuleOptions { RegisteredOnly = true });
        var idle = AddBooting(pxeCfg: "NONE", phys: "POWER_ON", name: "idle", mac: "52:54:00:18:00:02", ip: "198.18.0.12");
        var booting = AddBooting();
        Assert.False(Module.ShouldAnswer(idle));
        Assert.True(Module.ShouldAnswer(booting));
        Assert.False(Module.ShouldAnswer(NodeId.FromName("unknown")));

        var all = new PxeModule(_nodes, new PxeModuleOptions());
        Assert.True(all.ShouldAnswer(idle));
    }

    [Fact]
    public void Bad_options_are_refused_by_name()
    {
        Assert.Equal("DhcpTimeout", Assert.Throws<ArgumentException>(() => new PxeModule(_nodes, new PxeModuleOptions { DhcpTimeout = TimeSpan.Zero })).ParamName);
        Assert.Equal("BootFiles", Assert.Throws<ArgumentException>(() => new PxeModule(_nodes, new PxeModuleOptions { BootFiles = [] })).ParamName);
    }
}
