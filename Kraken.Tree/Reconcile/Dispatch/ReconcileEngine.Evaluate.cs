// The per-node state machine: compare Dsc with the plan, advance, wait, or re-plan.
using Kraken.Tree.State;

namespace Kraken.Tree.Reconcile;

public sealed partial class ReconcileEngine
{
    /// <summary>Brings one node's run in line with its current Cfg and Dsc.</summary>
    private void Evaluate(NodeId id)
    {
        if (!_store.TryGet(id, out var cfg, out var dsc))
        {
            RemoveRun(id);
            return;
        }

        if (_frozen)
        {
            return;
        }

        _graceEnds ??= _time.GetUtcNow() + _options.RestartGrace;
        if (!_runs.TryGetValue(id, out var run))
        {
            _runs[id] = run = new NodeRun(id);
        }

        var key = _planner.KeyOf(cfg, dsc);
        var goalChanged = !run.HasGoal || run.GoalMask != key.GoalMask || run.GoalValues != key.GoalValues || run.Constraints != key.Constraints;
        if (goalChanged)
        {
            run.GoalMask = key.GoalMask;
            run.GoalValues = key.GoalValues;
            run.Constraints = key.Constraints;
            run.HasGoal = true;
            run.Attempts = 0;
        }

        var state = key.Start;
        switch (run.Status)
        {
            case ReconcileStatus.Backoff or ReconcileStatus.Failed when !goalChanged:
                // Waiting out a failure: only reaching the goal by other means ends the wait early.
                if ((state & key.GoalMask) == key.GoalValues)
                {
                    Adopt(run, PlanFor(key), cfg, dsc);
                }

                return;

            case ReconcileStatus.Running or ReconcileStatus.Queued or ReconcileStatus.Following:
                EvaluateActive(run, key, goalChanged, cfg, dsc);
                return;

            default:
                var plan = PlanFor(key);
                if (plan.Status == PlanStatus.Path && Holds(run, cfg, dsc))
                {
                    return;
                }

                Adopt(run, plan, cfg, dsc);
                return;
        }
    }

    /// <summary>
    /// True while the restart grace holds <paramref name="run"/>'s node (<see cref="ReconcileOptions.RestartGrace"/>):
    /// the node is marked Holding with the grace's end as deadline, and evaluated again then or when it changes.
    /// </summary>
    private bool Holds(NodeRun run, NodeRecord cfg, NodeRecord dsc)
    {
        var now = _time.GetUtcNow();
        if (run.Acted || now >= _graceEnds!.Value || _options.HoldDuringGrace is not { } hold || !hold(cfg, dsc))
        {
            return false;
        }

        if (run.Status != ReconcileStatus.Holding)
        {
            run.Status = ReconcileStatus.Holding;
            run.Generation++;
            run.Deadline = _graceEnds;
            Schedule(run, TimerKind.GraceEnd, _graceEnds.Value);
            ReconcileLog.Holding(_logger, run.Id, _graceEnds.Value - now);
        }

        return true;
    }

    private void EvaluateActive(NodeRun run, PlanKey key, bool goalChanged, NodeRecord cfg, NodeRecord dsc)
    {
        var step = run.CurrentStep!;
        var m = step.Mutation;
        var state = key.Start;
        if ((state & m.PostMask) == m.PostValues)
        {
            // Every URL of the step reached its to-value.
            _metrics.Confirmed(m.Module, StepElapsed(run));
            Notify(MutationEventKind.Confirmed, run.Id, m, null);
            ReleaseActive(run, interrupt: false);
            if (!goalChanged && state == step.ToState && run.Step + 1 < run.Plan!.Steps.Length)
            {
                run.Step++;
                StartStep(run, cfg, dsc);
                return;
            }

            Adopt(run, PlanFor(key), cfg, dsc);
            return;
        }

        if (!goalChanged && InProgress(state, step))
        {
            // Still on the way; only the context may have changed (a new responsible parent).
            var inContext = InContext(m, run.Id, cfg);
            if (run.Status == ReconcileStatus.Following && inContext)
            {
                StartStep(run, cfg, dsc);
            }
            else if (run.Status != ReconcileStatus.Following && !inContext)
            {
                ReleaseActive(run, interrupt: true);
                run.Generation++;
                run.Status = ReconcileStatus.Following;
                run.Deadline = null;
            }

            return;
        }

        // Dsc moved somewhere the step does not lead, or Cfg asks for something else: the rest of the
        // chain is replaced by a fresh plan from where the node is now.
        var plan = PlanFor(key);
        _metrics.Replanned();
        ReconcileLog.Replanned(_logger, run.Id, plan.Start, plan);
        if (plan.Status == PlanStatus.Path && ReferenceEquals(plan.Steps[0].Mutation, m) && plan.Steps[0].FromState == step.FromState)
        {
            // The new plan starts with the step already under way: keep it running, without re-sending it.
            run.Plan = plan;
            run.Step = 0;
            return;
        }

        ReleaseActive(run, interrupt: true);
        Adopt(run, plan, cfg, dsc);
    }

    /// <summary>True while every mutated URL is at its from- or to-value and nothing else moved.</summary>
    private bool InProgress(UInt128 state, PlanStep step)
    {
        var m = step.Mutation;
        if ((state & ~m.PostMask) != (step.FromState & ~m.PostMask))
        {
            return false;
        }

        foreach (var mv in m.Mutates)
        {
            var i = _layout.IndexOf(mv.Url);
            var v = _layout.Get(state, i);
            if (v != _layout.Get(step.FromState, i) && v != _layout.Get(step.ToState, i))
            {
                return false;
            }
        }

        return true;
    }

    private MutationPlan PlanFor(in PlanKey key)
    {
        var plan = _planner.Plan(key, out var cached);
        _metrics.Planned(cached);
        return plan;
    }

    /// <summary>Makes <paramref name="plan"/> the node's plan and starts its first step.</summary>
    private void Adopt(NodeRun run, MutationPlan plan, NodeRecord cfg, NodeRecord dsc)
    {
        run.Generation++;
        run.Plan = plan;
        run.Step = 0;
        run.Started = null;
        run.Deadline = null;
        switch (plan.Status)
        {
            case PlanStatus.Complete:
                run.Status = ReconcileStatus.Complete;
                run.Attempts = 0;
                break;
            case PlanStatus.Unreachable:
                if (run.Status != ReconcileStatus.Unreachable)
                {
                    _metrics.Unreachable();
                    ReconcileLog.Unreachable(_logger, run.Id, plan.Reason);
                }

                run.Status = ReconcileStatus.Unreachable;
                break;
            default:
                StartStep(run, cfg, dsc);
                break;
        }
    }

    private bool InContext(Mutation m, NodeId node, NodeRecord cfg) => m.Context switch
    {
        MutationContext.Self => node == Self,
        MutationContext.Child => _parentPolicy.IsResponsibleParent(cfg),
        _ => true,
    };

    private void RemoveRun(NodeId id)
    {
        if (_runs.Remove(id, out var run))
        {
            ReleaseActive(run, interrupt: true);
            run.Generation++;
            run.Removed = true;
        }
    }
}
