// A module for tests and the simulator's role: confirms each request by discovering its to-values after a virtual delay.
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;

namespace Kraken.Tree.Tests.Reconcile;

internal sealed class FakeModule(ModuleDeclaration declaration, TimeProvider time, List<string> log) : IReconcileModule
{
    private readonly Dictionary<NodeId, int> _active = [];

    public ModuleDeclaration Declaration { get; } = declaration;

    public string Name => Declaration.Name;

    public IReconcileHost Host { get; private set; } = null!;

    /// <summary>Every request received, in order.</summary>
    public List<MutationRequest> Requests { get; } = [];

    /// <summary>Requests whose interrupt token fired.</summary>
    public List<MutationRequest> Interrupts { get; } = [];

    /// <summary>How long the fake takes to confirm a request.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Mutation ids the fake silently ignores (the step then times out).</summary>
    public HashSet<string> Ignore { get; } = new(StringComparer.Ordinal);

    /// <summary>Per mutation id, values reported instead of the to-values (a module that finds something else).</summary>
    public Dictionary<string, (string Url, string Value)[]> Answers { get; } = new(StringComparer.Ordinal);

    /// <summary>The most requests this module had in flight for one node at once.</summary>
    public int MaxActivePerNode { get; private set; }

    public int Active { get; private set; }

    /// <summary>The most requests this module had in flight at once, over all nodes.</summary>
    public int MaxActive { get; private set; }

    /// <summary>When set, called for each request instead of confirming it (the test drives the module).</summary>
    public Action<MutationRequest>? OnRequest { get; set; }

    public void Attach(IReconcileHost host) => Host = host;

    public void OnMutationRequest(MutationRequest request)
    {
        Requests.Add(request);
        log.Add($"{request.MutationId}@{request.Node}");
        _active[request.Node] = _active.GetValueOrDefault(request.Node) + 1;
        Active++;
        MaxActivePerNode = Math.Max(MaxActivePerNode, _active[request.Node]);
        MaxActive = Math.Max(MaxActive, Active);
        request.Interrupted.Register(() =>
        {
            Interrupts.Add(request);
            Done(request);
        });
        if (OnRequest is { } handler)
        {
            handler(request);
            return;
        }

        if (Ignore.Contains(request.MutationId))
        {
            return;
        }

        ITimer? timer = null;
        timer = time.CreateTimer(_ => Confirm(request, timer!), null, Delay, Timeout.InfiniteTimeSpan);
    }

    private void Confirm(MutationRequest request, ITimer timer)
    {
        timer.Dispose();
        if (request.Interrupted.IsCancellationRequested)
        {
            return;
        }

        Done(request);
        if (Answers.TryGetValue(request.MutationId, out var answers))
        {
            foreach (var (url, value) in answers)
            {
                Host.Discover(request.Node, url, value);
            }

            return;
        }

        foreach (var mv in request.Mutation.Mutates)
        {
            Host.Discover(request.Node, mv.Url, mv.To);
        }
    }

    private void Done(MutationRequest request)
    {
        if (_active.TryGetValue(request.Node, out var n) && n > 0)
        {
            _active[request.Node] = n - 1;
            Active--;
        }
    }
}
