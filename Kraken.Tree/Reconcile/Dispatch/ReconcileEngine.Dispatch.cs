// Sending steps to modules within their concurrency limits, and taking them back.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public sealed partial class ReconcileEngine
{
    /// <summary>Starts the run's current step: dispatch it, queue it for a module slot, or follow it (out of context).</summary>
    private void StartStep(NodeRun run, NodeRecord cfg, NodeRecord dsc)
    {
        var m = run.CurrentStep!.Mutation;
        run.Generation++;
        run.Started = _time.GetUtcNow();
        run.Deadline = null;
        if (!InContext(m, run.Id, cfg))
        {
            // Another daemon performs it; this one follows the node's progress through Dsc, without a timer.
            run.Status = ReconcileStatus.Following;
            return;
        }

        run.Acted = true;
        var slot = _slots[m.Module];
        if (!slot.HasRoom)
        {
            run.Status = ReconcileStatus.Queued;
            slot.Waiting.Enqueue((run, run.Generation));
            return;
        }

        Dispatch(run, slot, cfg, dsc);
    }

    private void Dispatch(NodeRun run, ModuleSlot slot, NodeRecord cfg, NodeRecord dsc)
    {
        var m = run.CurrentStep!.Mutation;
        var now = _time.GetUtcNow();
        DateTimeOffset? deadline = m.Timeout > TimeSpan.Zero ? now + m.Timeout : null;
#pragma warning disable CA2000 // cancelled on interrupt, never disposed: modules may still hold and register on its token
        var interrupt = new CancellationTokenSource();
#pragma warning restore CA2000
        var request = new MutationRequest(run.Id, m, cfg, dsc, run.Attempts, now, deadline, interrupt.Token);
        run.Request = request;
        run.Interrupt = interrupt;
        run.Slot = slot;
        run.Status = ReconcileStatus.Running;
        run.Started = now;
        run.Deadline = deadline;
        slot.InFlight++;
        if (deadline is { } due)
        {
            Schedule(run, TimerKind.Timeout, due);
        }

        _metrics.Dispatched(m.Module);
        Notify(MutationEventKind.Dispatched, run.Id, m, null);
        ReconcileLog.Dispatched(_logger, run.Id, m.Id, m.Module);
        try
        {
            slot.Module.OnMutationRequest(request);
        }
#pragma warning disable CA1031 // a faulty module fails its step; it must not stop the engine
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ReconcileLog.ModuleThrew(_logger, ex, m.Module, m.Id, run.Id);
            Fail(run, $"{m.Id} ({m.Module}) failed: the module threw {ex.GetType().Name}: {ex.Message}", timedOut: false);
        }
    }

    private void Notify(MutationEventKind kind, NodeId node, Mutation mutation, string? reason) =>
        _options.MutationObserver?.Invoke(new MutationEvent(kind, node, mutation.Id, mutation.Module, _time.GetUtcNow(), reason));

    /// <summary>How long the run's current step has been going (from its dispatch, or from its start when followed).</summary>
    private TimeSpan StepElapsed(NodeRun run) => run.Started is { } started ? _time.GetUtcNow() - started : TimeSpan.Zero;

    /// <summary>Ends the run's request in flight, if any: frees its module slot and, when abandoned, interrupts the module.</summary>
    private void ReleaseActive(NodeRun run, bool interrupt)
    {
        if (run.Request is not { } request)
        {
            return;
        }

        var slot = run.Slot!;
        var cts = run.Interrupt!;
        run.Request = null;
        run.Interrupt = null;
        run.Slot = null;
        slot.InFlight--;
        if (interrupt)
        {
            _metrics.Interrupted(request.Mutation.Module);
            Notify(MutationEventKind.Interrupted, run.Id, request.Mutation, null);
            try
            {
                cts.Cancel();
            }
#pragma warning disable CA1031 // module callbacks must only queue; one that throws is logged, not fatal
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ReconcileLog.InterruptCallbackFailed(_logger, ex, run.Id);
            }
        }

        PumpQueue(slot);
    }

    /// <summary>Dispatches queued steps while the module has free slots; stale entries (re-planned, deleted) are skipped.</summary>
    private void PumpQueue(ModuleSlot slot)
    {
        if (slot.Pumping)
        {
            return;
        }

        slot.Pumping = true;
        try
        {
            DrainQueue(slot);
        }
        finally
        {
            slot.Pumping = false;
        }
    }

    private void DrainQueue(ModuleSlot slot)
    {
        while (!_frozen && slot.HasRoom && slot.Waiting.TryDequeue(out var entry))
        {
            var run = entry.Run;
            if (run.Removed || run.Generation != entry.Generation || run.Status != ReconcileStatus.Queued)
            {
                continue;
            }

            if (!_store.TryGet(run.Id, out var cfg, out var dsc))
            {
                continue;
            }

            Dispatch(run, slot, cfg, dsc);
        }
    }

    private void SetAvailable(string module, bool available)
    {
        var slot = _slots[module];
        slot.Available = available;
        PumpQueue(slot);
    }

    private void OnReportedFailure(MutationRequest request, string reason)
    {
        if (_runs.TryGetValue(request.Node, out var run) && ReferenceEquals(run.Request, request))
        {
            Fail(run, $"{request.Mutation.Id} ({request.Mutation.Module}) failed: {reason}", timedOut: false);
        }
    }
}
