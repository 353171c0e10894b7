// The in-process contract between the reconcile engine and the modules that discover and change state.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

/// <summary>
/// A module: declares what it can discover and change, receives mutation requests from the engine, and reports
/// what it finds through <see cref="IReconcileHost"/>. Real drivers (power, PXE) and the simulator's fakes
/// implement the same contract.
/// </summary>
public interface IReconcileModule
{
    /// <summary>The module's declarations; read once, when the engine is created.</summary>
    ModuleDeclaration Declaration { get; }

    /// <summary>Called once by the engine before any request, with the handle to report discoveries through.</summary>
    void Attach(IReconcileHost host);

    /// <summary>
    /// A mutation to perform. Called on the engine's executor: queue the work and return at once (never block,
    /// never do I/O here). Callbacks registered on <see cref="MutationRequest.Interrupted"/> run on the engine's
    /// executor too and must also only queue.
    /// </summary>
    void OnMutationRequest(MutationRequest request);
}

/// <summary>What a module may call on the engine. Thread-safe: call from any thread.</summary>
public interface IReconcileHost
{
    /// <summary>The id of the daemon the engine runs in.</summary>
    NodeId Self { get; }

    /// <summary>The state store the engine reconciles (read Cfg and Dsc here; write Dsc through <see cref="Discover(NodeId, StateUrl, StateValue)"/>).</summary>
    StateStore Store { get; }

    /// <summary>
    /// Reports a discovered value: writes it to the node's Dsc. The URL and value must be among the module's
    /// declared discoverables, the to-values of its mutations or its fail-to values; anything else throws
    /// <see cref="ArgumentException"/> and changes nothing.
    /// </summary>
    void Discover(NodeId node, StateUrl url, StateValue value);

    /// <summary>Text form of <see cref="Discover(NodeId, StateUrl, StateValue)"/>: <c>Discover(id, "/PhysState", "POWER_ON")</c>.</summary>
    void Discover(NodeId node, string url, string value);

    /// <summary>
    /// Says a request cannot succeed (the BMC refused, the VM does not exist) so the engine need not wait for
    /// its timeout: it is handled like a timeout, with <paramref name="reason"/> as the node's last failure.
    /// Ignored when the request is no longer the node's current step.
    /// </summary>
    void ReportFailure(MutationRequest request, string reason);

    /// <summary>
    /// Says whether the module can take requests (a module is available unless it says otherwise). While it is
    /// not (still opening its sockets, say), its steps wait in its queue, without timing out, and are dispatched
    /// once it becomes available: the in-process counterpart of the original's "wait for the service to run".
    /// </summary>
    void SetAvailable(bool available);
}
