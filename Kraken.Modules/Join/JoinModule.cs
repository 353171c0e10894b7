// The join step: a booted child's daemon joins its parent (RunState INIT -> SYNC), as a step of the reconcile graph.
using Kraken.Tree.Reconcile;

namespace Kraken.Modules.Join;

/// <summary>Settings of <see cref="JoinModule"/>.</summary>
public sealed record JoinModuleOptions
{
    /// <summary>The module name the engine knows it by.</summary>
    public string ModuleName { get; init; } = "join";

    /// <summary>
    /// From the boot files delivered (PXE COMP) to the child's daemon joined: the kernel and initramfs start, the
    /// daemon configures its uplink and joins. The original allowed 90 s; a server-class machine's firmware and an
    /// emulated CPU both need more.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The step requires <c>/PhysState = POWER_ON</c> and fails to <c>PHYS_HANG</c>, so a power module power cycles
    /// the node and it boots again. Without power control (false) there is nothing to require, and a network-booted
    /// node fails to <c>/Extensions/Pxe/State = NONE</c> instead, so the PXE module waits for its next boot.
    /// </summary>
    public bool RequirePowerOn { get; init; } = true;

    /// <summary>
    /// The node boots from its parent over the network (the PXE module is in the set): the step goes from
    /// <c>RunState INIT</c>, which the PXE module discovers at the node's DHCP ACK, and requires the boot files
    /// delivered (<c>/Extensions/Pxe/State = COMP</c>). False: the node boots by other means (its own disk) and its
    /// daemon joins by itself, so the step goes from <c>UNKNOWN</c> (<c>UKtoSYNC</c>).
    /// </summary>
    public bool AfterPxe { get; init; } = true;

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModuleName))
        {
            throw new ArgumentException("ModuleName must not be empty.", nameof(ModuleName));
        }

        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Timeout must be positive, not {Timeout}.", nameof(Timeout));
        }
    }
}

/// <summary>
/// <c>INITtoSYNC</c> (<c>UKtoSYNC</c> for nodes that do not boot over the network): a child whose boot files were delivered (<c>/Extensions/Pxe/State = COMP</c>, RunState INIT
/// from its DHCP exchange) joins its parent. Context Child: the parent runs the step, and has nothing to do but
/// wait, because the child's own daemon starts the join. The step is confirmed when the parent's sync engine
/// admits the child and writes <c>/RunState = SYNC</c> to its Dsc; when the child dies the same engine writes
/// <c>ERROR</c>, from which the graph leads back through power (off, on, boot, join). A child that never joins
/// fails the step after <see cref="JoinModuleOptions.Timeout"/> and is booted again.
/// </summary>
public sealed class JoinModule : IReconcileModule
{
    public const string InitToSync = "INITtoSYNC";
    public const string UnknownToSync = "UKtoSYNC";

    private const string RunStateUrl = "/RunState";
    private const string PhysStateUrl = "/PhysState";
    private const string PxeStateUrl = "/Extensions/Pxe/State";

    private IReconcileHost? _host;

    public JoinModule(JoinModuleOptions? options = null)
    {
        Options = options ?? new JoinModuleOptions();
        Options.Validate();
        Declaration = CreateDeclaration(Options);
    }

    public JoinModuleOptions Options { get; }

    public ModuleDeclaration Declaration { get; }

    /// <summary>Discoverables RunState SYNC and ERROR (written by the sync engine) and the one step, context Child.</summary>
    public static ModuleDeclaration CreateDeclaration(JoinModuleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var requires = new List<UrlValue>(2);
        if (options.RequirePowerOn)
        {
            requires.Add(new UrlValue(PhysStateUrl, "POWER_ON"));
        }

        if (options.AfterPxe)
        {
            requires.Add(new UrlValue(PxeStateUrl, "COMP"));
        }

        UrlValue? failTo = options.RequirePowerOn ? new UrlValue(PhysStateUrl, "PHYS_HANG")
            : options.AfterPxe ? new UrlValue(PxeStateUrl, "NONE")
            : null;
        return new ModuleDeclaration(options.ModuleName)
        {
            Discoverables = [new DiscoverableDeclaration(RunStateUrl, ["SYNC", "ERROR"])],
            Mutations =
            [
                new MutationDeclaration(MutationId(options))
                {
                    Mutates = [new MutatedUrl(RunStateUrl, options.AfterPxe ? "INIT" : "UNKNOWN", "SYNC")],
                    Requires = requires,
                    Context = MutationContext.Child,
                    Timeout = options.Timeout,
                    FailTo = failTo,
                },
            ],
        };
    }

    /// <summary><c>INITtoSYNC</c> after a network boot, <c>UKtoSYNC</c> otherwise.</summary>
    public static string MutationId(JoinModuleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.AfterPxe ? InitToSync : UnknownToSync;
    }

    public void Attach(IReconcileHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
    }

    public void OnMutationRequest(MutationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.MutationId != MutationId(Options))
        {
            _host?.ReportFailure(request, $"The join module has no mutation '{request.MutationId}'.");
        }

        // The child joins by itself: the sync engine's SYNC confirms the step, its timeout fails it.
    }
}
