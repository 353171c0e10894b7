// A serial executor that runs only when asked, for deterministic tests and the simulator.
namespace Kraken.Net.Execution;

/// <summary>
/// Queues work until <see cref="RunPending"/> or <see cref="VirtualTimeProvider.RunUntilIdle"/> runs it.
/// Several executors may share one <see cref="WorkQueue"/>, which then runs all their work in one global
/// posting order: that is how a simulated cluster of many engines stays deterministic.
/// </summary>
public sealed class ManualExecutor : ISerialExecutor
{
    public ManualExecutor(WorkQueue? queue = null)
    {
        Queue = queue ?? new WorkQueue();
    }

    public WorkQueue Queue { get; }

    public void Post(Action<object?> work, object? state) => Queue.Enqueue(work, state);

    /// <summary>Runs queued work (and work it posts) until the queue is empty; returns how many items ran.</summary>
    public int RunPending() => Queue.RunPending();
}

/// <summary>A FIFO of work items shared by manual executors.</summary>
public sealed class WorkQueue
{
    private readonly Queue<(Action<object?> Work, object? State)> _items = new();
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    public void Enqueue(Action<object?> work, object? state)
    {
        lock (_lock)
        {
            _items.Enqueue((work, state));
        }
    }

    public int RunPending(int limit = int.MaxValue)
    {
        var ran = 0;
        while (ran < limit)
        {
            (Action<object?> Work, object? State) item;
            lock (_lock)
            {
                if (!_items.TryDequeue(out item))
                {
                    break;
                }
            }

            item.Work(item.State);
            ran++;
        }

        return ran;
    }
}
