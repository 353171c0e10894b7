// Running one operation: queueing by driver and BMC, the call with its timeout, classification and retries.
using Kraken.Modules.Power.Internal;
using Kraken.Net.Execution;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Power;

public sealed partial class PowerModule
{
    private void Submit(PowerOperation op)
    {
        if (op.Calls == 0)
        {
            op.Submitted = _time.GetTimestamp();
            _active[op.Target.Node] = _active.GetValueOrDefault(op.Target.Node) + 1;
        }

        if (op.Cancel.IsCancellationRequested)
        {
            op.Cancelled = true;
            Finish(op);
            return;
        }

        if (!_drivers.TryGetValue(op.Target.Driver, out var driver))
        {
            op.Error = PowerErrorKind.Configuration;
            op.Reason = $"no power driver named '{op.Target.Driver}' (registered: {string.Join(", ", Drivers)})";
            Finish(op);
            return;
        }

        _scheduler.Enqueue(driver, op);
    }

    /// <summary>Starts the driver call; its completion, even a synchronous one, is posted, so a burst of instant answers cannot recurse.</summary>
    private void StartCall(PowerOperation op)
    {
        op.Calls++;
        _metrics.Call(op.Target.Driver);
        var cts = new CancellationTokenSource(op.CallTimeout, _time);
        op.CallCancel = cts;
        if (op.Cancel.CanBeCanceled)
        {
            op.CancelRegistration = op.Cancel.Register(static s => CancelQuietly((CancellationTokenSource)s!), cts);
        }

        ValueTask<PowerStatus> call;
        try
        {
            call = op.Driver!.Driver.ExecuteAsync(op.Target, op.Action, cts.Token);
        }
        catch (Exception e)
        {
            call = ValueTask.FromException<PowerStatus>(e);
        }

        if (call.IsCompletedSuccessfully)
        {
            op.CallResult = call.Result;
            op.CallTask = null;
            _executor.Post(static s => ((PowerOperation)s!).Module!.CallDone((PowerOperation)s!), Own(op));
            return;
        }

        var task = call.AsTask();
        op.CallTask = task;
        task.ContinueWith(
            static (_, s) => { var o = (PowerOperation)s!; o.Module!._executor.Post(static x => ((PowerOperation)x!).Module!.CallDone((PowerOperation)x!), o); },
            Own(op),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private PowerOperation Own(PowerOperation op)
    {
        op.Module = this;
        return op;
    }

    private void CallDone(PowerOperation op)
    {
        var timedOut = op.CallCancel!.IsCancellationRequested && !op.Cancel.IsCancellationRequested;
        op.CancelRegistration.Dispose();
        op.CallCancel.Dispose();
        op.CallCancel = null;
        Classify(op, timedOut);
        _scheduler.Release(op);
        if (op.Error is { } kind && !op.Cancelled && !_disposed && op.Calls <= op.Retries && PowerException.IsTransientKind(kind))
        {
            _metrics.Retry(op.Target.Driver);
            PowerLog.Retrying(_logger, op.Action, op.Target, op.Calls + 1, op.Reason ?? kind.ToString());
            if (_options.RetryDelay <= TimeSpan.Zero)
            {
                Retry(op);
            }
            else
            {
                op.RetryTimer = _executor.CreateTimer(_time, static s => { var o = (PowerOperation)s!; o.RetryTimer?.Dispose(); o.RetryTimer = null; o.Module!.Retry(o); }, op, _options.RetryDelay, Timeout.InfiniteTimeSpan);
            }

            return;
        }

        Finish(op);
    }

    private void Retry(PowerOperation op)
    {
        op.Error = null;
        op.Reason = null;
        Submit(op);
    }

    private void Classify(PowerOperation op, bool timedOut)
    {
        var task = op.CallTask;
        op.CallTask = null;
        if (task is null || task.IsCompletedSuccessfully)
        {
            op.Status = task?.Result ?? op.CallResult;
            op.Error = null;
            op.Reason = null;
            return;
        }

        var error = task.IsCanceled ? new OperationCanceledException() : task.Exception!.InnerException ?? task.Exception;
        switch (error)
        {
            case OperationCanceledException when op.Cancel.IsCancellationRequested:
                op.Cancelled = true;
                op.Error = PowerErrorKind.Timeout;
                op.Reason = "cancelled";
                break;
            case OperationCanceledException:
            case PowerException { Kind: PowerErrorKind.Timeout } when timedOut:
                op.Error = PowerErrorKind.Timeout;
                op.Reason = $"no answer within {op.CallTimeout.TotalSeconds:0.###} s";
                break;
            case PowerException p:
                op.Error = p.Kind;
                op.Reason = p.Message;
                break;
            default:
                PowerLog.DriverThrew(_logger, error, op.Target.Driver, op.Target);
                op.Error = PowerErrorKind.Protocol;
                op.Reason = $"driver error: {error.Message}";
                break;
        }
    }

    private void Finish(PowerOperation op)
    {
        var node = op.Target.Node;
        if (_active.TryGetValue(node, out var n))
        {
            if (n <= 1)
            {
                _active.Remove(node);
            }
            else
            {
                _active[node] = n - 1;
            }
        }

        if (!op.Cancelled)
        {
            _metrics.Done(op.Target.Driver, op.Error is null, _time.GetElapsedTime(op.Submitted));
            if (op.Error is not null && op.Owner != OperationOwner.Poll && _logger.IsEnabled(LogLevel.Warning))
            {
                PowerLog.OperationFailed(_logger, op.Action, op.Target, op.Calls, op.Reason ?? op.Error.ToString()!);
            }
        }

        switch (op.Owner)
        {
            case OperationOwner.Mutation:
                FinishMutation(op);
                break;
            case OperationOwner.Poll:
                FinishPoll(op);
                break;
            default:
                ((BulkRun)op.State!).Record(op);
                break;
        }
    }

    private static void CancelQuietly(CancellationTokenSource cts)
    {
        try
        {
            cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call finished while the request was being abandoned: nothing left to cancel.
        }
    }
}
