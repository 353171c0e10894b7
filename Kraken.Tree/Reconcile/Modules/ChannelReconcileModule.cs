// A base for modules that process their requests in an asynchronous loop reading a channel.
using System.Threading.Channels;

namespace Kraken.Tree.Reconcile;

/// <summary>
/// Queues every request into an unbounded channel (the engine already bounds how many requests a module has
/// in flight) for a processing loop that reads <see cref="Requests"/>.
/// </summary>
public abstract class ChannelReconcileModule : IReconcileModule
{
    private readonly Channel<MutationRequest> _requests =
        Channel.CreateUnbounded<MutationRequest>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    private IReconcileHost? _host;

    public abstract ModuleDeclaration Declaration { get; }

    /// <summary>The host given by the engine; throws before <see cref="Attach"/>.</summary>
    protected IReconcileHost Host => _host ?? throw new InvalidOperationException($"Module {Declaration.Name} is not attached to an engine.");

    /// <summary>The requests to process, in dispatch order.</summary>
    public ChannelReader<MutationRequest> Requests => _requests.Reader;

    public virtual void Attach(IReconcileHost host) => _host = host;

    public void OnMutationRequest(MutationRequest request) => _requests.Writer.TryWrite(request);

    /// <summary>Ends the request stream (when the module stops).</summary>
    protected void CompleteRequests() => _requests.Writer.TryComplete();
}
