// One timer for all simulated hardware: power, PXE and boot events wait in a single priority queue.
using Kraken.Net.Execution;

namespace Kraken.Sim.Cluster;

/// <summary>
/// Pending hardware events of every virtual node, in due-time then scheduling order, behind one timer on the
/// virtual clock: 100,000 booting nodes cost 100,000 small queue entries, not 100,000 timers and closures.
/// Runs on the simulation's executor.
/// </summary>
internal sealed class EventWheel
{
    private readonly TimeProvider _time;
    private readonly PriorityQueue<SimEvent, (long Due, long Seq)> _queue = new();
    private readonly ITimer _timer;
    private readonly Action<SimEvent> _handler;
    private long _seq;
    private long _armed = long.MaxValue;

    public EventWheel(TimeProvider time, ISerialExecutor executor, Action<SimEvent> handler)
    {
        _time = time;
        _handler = handler;
        _timer = executor.CreateTimer(time, static s => ((EventWheel)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public int Pending => _queue.Count;

    public void Schedule(TimeSpan delay, SimEvent e)
    {
        var now = _time.GetUtcNow().UtcTicks;
        var due = now + Math.Max(0, delay.Ticks);
        _queue.Enqueue(e, (due, ++_seq));
        if (due < _armed)
        {
            _armed = due;
            _timer.Change(TimeSpan.FromTicks(due - now), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        _armed = long.MaxValue;
        var now = _time.GetUtcNow().UtcTicks;
        while (_queue.TryPeek(out var e, out var p) && p.Due <= now)
        {
            _queue.Dequeue();
            _handler(e);
        }

        if (_queue.TryPeek(out _, out var next))
        {
            _armed = next.Due;
            _timer.Change(TimeSpan.FromTicks(next.Due - now), Timeout.InfiniteTimeSpan);
        }
    }
}

internal enum SimEventKind : byte
{
    /// <summary>A powered machine's firmware has run and asks for an address.</summary>
    FirmwareDone,

    /// <summary>The node's boot files have arrived from its parent.</summary>
    FetchDone,

    /// <summary>The node's kernel and initramfs are up: its daemon starts.</summary>
    KernelDone,

    Scenario,
    DhcpToServer,
    DhcpToClient,
    DhcpTimeout,
}

/// <summary>One hardware event: what happened, to which node, during which of its boots (ignored once that boot is over).</summary>
internal readonly record struct SimEvent(SimEventKind Kind, int Node, object? Payload, int Boot = 0);
