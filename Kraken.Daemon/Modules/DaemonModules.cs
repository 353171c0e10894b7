// The seam through which modules (PXE, power, ...) join the daemon: one registration each, one config section each.
using System.Diagnostics.CodeAnalysis;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Modules;

/// <summary>What a module gets from the daemon when it is created.</summary>
/// <param name="Self">This daemon's node id.</param>
/// <param name="Store">The daemon's state store (Cfg and Dsc of every node it holds).</param>
/// <param name="Configuration">The module's own section, <c>Modules:{Name}</c> (empty when absent).</param>
/// <param name="IsRoot">True at the root of the tree.</param>
/// <param name="Time">The daemon's clock; modules take timing from it, never from DateTime.</param>
/// <param name="LoggerFactory">For the module's loggers.</param>
/// <param name="Services">The daemon's services, for anything else a module needs.</param>
public sealed record DaemonModuleContext(
    NodeId Self,
    StateStore Store,
    IConfigurationSection Configuration,
    bool IsRoot,
    TimeProvider Time,
    ILoggerFactory LoggerFactory,
    IServiceProvider Services)
{
    /// <summary>The bootstrap credentials this daemon issues to the nodes it boots (the PXE services hand them out); null: none.</summary>
    public Kraken.Tree.Sync.BootstrapCredentials? Bootstrap { get; init; }

    /// <summary>The named secrets (BMC credentials) this daemon received from its parent at join; empty at a configured daemon.</summary>
    public Kraken.Modules.Power.ICredentialProvider? ReceivedCredentials { get; init; }

    /// <summary>This daemon's sync port, which the nodes it boots join (rendered into their kernel arguments).</summary>
    public int SyncPort { get; init; } = 31415;
}

/// <summary>
/// A module of the daemon. The daemon creates it at start, after Cfg is loaded and before the engines run,
/// and hands the reconcile modules it returns to the reconcile engine. Instruments it creates on meters named
/// <c>Kraken.*</c> appear on <c>/metrics</c> without further wiring. Disposed (if disposable) at shutdown.
/// </summary>
public interface IDaemonModule
{
    /// <summary>The module's name; its configuration section is <c>Modules:{Name}</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Reads and validates the module's section (throw <see cref="Hosting.DaemonConfigException"/> naming the
    /// key to stop start-up), starts whatever the module serves, and returns its reconcile modules.
    /// </summary>
    IEnumerable<IReconcileModule> Create(DaemonModuleContext context);
}

public static class DaemonModuleRegistration
{
    /// <summary>
    /// Adds a module: <c>services.AddKrakenModule&lt;PxeModule&gt;()</c>. A module whose section has
    /// <c>Enabled: false</c> is skipped at start.
    /// </summary>
    public static IServiceCollection AddKrakenModule<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TModule>(this IServiceCollection services)
        where TModule : class, IDaemonModule
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddSingleton<IDaemonModule, TModule>();
    }

    /// <summary>Adds an already built module (tests, simulated drivers).</summary>
    public static IServiceCollection AddKrakenModule(this IServiceCollection services, IDaemonModule module)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddSingleton(module);
    }

    /// <summary>
    /// The modules the shipped daemon registers. Add one line per module here; its configuration lives in
    /// <c>Modules:{Name}</c>.
    /// </summary>
    internal static IServiceCollection AddBuiltInModules(this IServiceCollection services) => services
        .AddKrakenModule<PowerDaemonModule>()
        .AddKrakenModule<PxeDaemonModule>();
}
