// Freeze and thaw: stop every dispatch and timer, then re-plan everything from scratch.
namespace Kraken.Tree.Reconcile;

public sealed partial class ReconcileEngine
{
    private void FreezeCore()
    {
        if (_frozen)
        {
            return;
        }

        // Set first: releasing slots below must not dispatch queued steps.
        _frozen = true;
        var interrupted = 0;
        foreach (var run in SortedRuns())
        {
            if (run.Request is not null)
            {
                interrupted++;
                ReleaseActive(run, interrupt: true);
            }

            if (run.HasActiveStep || run.Status == ReconcileStatus.Backoff)
            {
                run.Status = ReconcileStatus.Frozen;
                run.Deadline = null;
            }

            run.Generation++;
        }

        foreach (var slot in _slots.Values)
        {
            slot.Waiting.Clear();
        }

        Disarm();
        ReconcileLog.Frozen(_logger, interrupted);
    }

    private void ThawCore()
    {
        if (!_frozen)
        {
            return;
        }

        _frozen = false;

        // Nothing from before the freeze survives: no timer, no path, no failure count.
        Disarm();
        foreach (var run in _runs.Values)
        {
            run.Status = ReconcileStatus.Idle;
            run.Attempts = 0;
            run.HasGoal = false;
            run.Generation++;
        }

        ReconcileLog.Thawed(_logger, _store.Count);
        MarkAll();
    }
}
