// Timeouts, failures, fail-to values and backoff; one timer for the whole engine.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public sealed partial class ReconcileEngine
{
    private readonly PriorityQueue<(NodeRun Run, int Generation, TimerKind Kind), (long Due, long Seq)> _timers = new();
    private readonly ITimer _timer;
    private long _armedDue = long.MaxValue;
    private long _timerSeq;

    private enum TimerKind : byte
    {
        Timeout,
        Backoff,
        GraceEnd,
    }

    /// <summary>
    /// A step failed (timed out, or its module said so): interrupt the module, write the mutation's fail-to
    /// value to Dsc, and re-plan after a backoff, or give the node up after too many failures for one goal.
    /// </summary>
    private void Fail(NodeRun run, string reason, bool timedOut)
    {
        var m = run.CurrentStep!.Mutation;
        var elapsed = StepElapsed(run);
        ReleaseActive(run, interrupt: true);
        _metrics.Failed(m.Module, elapsed, timedOut);
        Notify(timedOut ? MutationEventKind.TimedOut : MutationEventKind.Failed, run.Id, m, reason);
        run.Generation++;
        run.Attempts++;
        run.LastFailure = reason;
        ReconcileLog.StepFailed(_logger, run.Id, reason, run.Attempts);
        if (run.Attempts >= _options.MaxAttempts)
        {
            run.Status = ReconcileStatus.Failed;
            run.Deadline = null;
            _metrics.GaveUp();
            ReconcileLog.GaveUp(_logger, run.Id, run.Attempts, reason);
        }
        else
        {
            run.Status = ReconcileStatus.Backoff;
            run.Deadline = _time.GetUtcNow() + _options.Backoff(run.Attempts);
            Schedule(run, TimerKind.Backoff, run.Deadline.Value);
        }

        if (m.FailToUrl is { } url)
        {
            try
            {
                _store.Set(StateView.Dsc, run.Id, url, m.FailToValue);
            }
            catch (StateException ex)
            {
                ReconcileLog.DscWriteFailed(_logger, run.Id, url.Path, ex.Message);
            }
        }
    }

    private void Schedule(NodeRun run, TimerKind kind, DateTimeOffset due)
    {
        var ticks = due.UtcTicks;
        _timers.Enqueue((run, run.Generation, kind), (ticks, _timerSeq++));
        if (ticks < _armedDue)
        {
            Arm(ticks);
        }
    }

    private void Arm(long due)
    {
        _armedDue = due;
        var delay = Math.Max(0, due - _time.GetUtcNow().UtcTicks);
        _timer.Change(TimeSpan.FromTicks(delay), Timeout.InfiniteTimeSpan);
    }

    private void Disarm()
    {
        _timers.Clear();
        _armedDue = long.MaxValue;
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private void OnTimer()
    {
        if (_disposed)
        {
            return;
        }

        _armedDue = long.MaxValue;
        var now = _time.GetUtcNow().UtcTicks;
        while (_timers.TryPeek(out var entry, out var at) && at.Due <= now)
        {
            _timers.Dequeue();
            var run = entry.Run;
            if (run.Removed || run.Generation != entry.Generation)
            {
                continue;
            }

            if (entry.Kind == TimerKind.Timeout && run.Status == ReconcileStatus.Running)
            {
                var m = run.CurrentStep!.Mutation;
                Fail(run, $"{m.Id} ({m.Module}) timed out after {m.Timeout}", timedOut: true);
            }
            else if ((entry.Kind == TimerKind.Backoff && run.Status == ReconcileStatus.Backoff) || (entry.Kind == TimerKind.GraceEnd && run.Status == ReconcileStatus.Holding))
            {
                run.Status = ReconcileStatus.Idle;
                Evaluate(run.Id);
            }
        }

        if (_timers.TryPeek(out _, out var next))
        {
            Arm(next.Due);
        }
    }
}
