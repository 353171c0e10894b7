// Bulk power operations started through the API: progress while they run, their summary after, a bounded history.
using System.Security.Cryptography;
using Kraken.Modules.Power;
using Kraken.Tree.State;

namespace Kraken.Daemon.Modules;

/// <summary>Where a bulk operation is.</summary>
public enum PowerOperationState : byte
{
    Running,
    Done,
    Cancelled,
}

/// <summary>
/// One bulk power operation. Every node is its own <see cref="PowerModule.RunBulkAsync(IEnumerable{NodeId}, PowerAction, BulkPowerOptions?, CancellationToken)"/>
/// run, submitted in selection order, so results arrive one by one (progress) while the module's per-driver and
/// per-BMC limits, timeouts and retries apply exactly as for a single run. Thread-safe.
/// </summary>
public sealed class PowerBulkOperation
{
    private readonly Lock _lock = new();
    private readonly BulkNodeResult?[] _results;
    private readonly CancellationTokenSource _cancel = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeProvider _time;
    private readonly long _startedTimestamp;
    private int _remaining;
    private int _ok;
    private int _failed;
    private int _timedOut;

    internal PowerBulkOperation(string id, string action, PowerAction powerAction, IReadOnlyList<NodeId> nodes, bool setCfg, TimeProvider time)
    {
        Id = id;
        Action = action;
        PowerAction = powerAction;
        Nodes = nodes;
        SetCfg = setCfg;
        _time = time;
        _results = new BulkNodeResult?[nodes.Count];
        _remaining = nodes.Count;
        Started = time.GetUtcNow();
        _startedTimestamp = time.GetTimestamp();
    }

    public string Id { get; }

    /// <summary>The API's name of the action: on, off, cycle, reset, soft.</summary>
    public string Action { get; }

    public PowerAction PowerAction { get; }

    public IReadOnlyList<NodeId> Nodes { get; }

    /// <summary>Whether Cfg /PhysState was set for the selection before the calls.</summary>
    public bool SetCfg { get; }

    public DateTimeOffset Started { get; }

    public DateTimeOffset? Finished { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    public PowerOperationState State { get; private set; }

    public int Requested => Nodes.Count;

    public Task Completion => _completion.Task;

    internal CancellationToken Cancellation => _cancel.Token;

    /// <summary>Counts and results as of now: one consistent view, results in selection order (null: still pending).</summary>
    public PowerOperationSnapshot Snapshot()
    {
        lock (_lock)
        {
            var elapsed = State == PowerOperationState.Running ? _time.GetElapsedTime(_startedTimestamp) : Elapsed;
            return new PowerOperationSnapshot(this, State, Requested - _remaining, _ok, _failed, _timedOut, elapsed, Finished, [.. _results]);
        }
    }

    /// <summary>Asks the module to abandon what has not finished; those nodes end as failed, reason "cancelled".</summary>
    public bool Cancel()
    {
        lock (_lock)
        {
            if (State != PowerOperationState.Running)
            {
                return false;
            }
        }

        _cancel.Cancel();
        return true;
    }

    internal void Start(PowerModule module, BulkPowerOptions options)
    {
        if (Nodes.Count == 0)
        {
            Complete();
            return;
        }

        for (var i = 0; i < Nodes.Count; i++)
        {
            var index = i;
            module.RunBulkAsync([Nodes[i]], PowerAction, options, _cancel.Token).ContinueWith(
                t => Record(index, t),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private void Record(int index, Task<BulkPowerSummary> run)
    {
        var result = run.IsCompletedSuccessfully && run.Result.Results.Count == 1
            ? run.Result.Results[0]
            : new BulkNodeResult(Nodes[index], Nodes[index].ToString(), BulkOutcome.Failed)
            {
                Reason = run.Exception?.InnerException?.Message ?? "the power module did not run the call",
                Error = PowerErrorKind.Configuration,
            };
        bool last;
        lock (_lock)
        {
            _results[index] = result;
            switch (result.Outcome)
            {
                case BulkOutcome.Ok: _ok++; break;
                case BulkOutcome.TimedOut: _timedOut++; break;
                default: _failed++; break;
            }

            last = --_remaining == 0;
        }

        if (last)
        {
            Complete();
        }
    }

    private void Complete()
    {
        lock (_lock)
        {
            Elapsed = _time.GetElapsedTime(_startedTimestamp);
            Finished = _time.GetUtcNow();
            State = _cancel.IsCancellationRequested ? PowerOperationState.Cancelled : PowerOperationState.Done;
        }

        _completion.TrySetResult();
    }
}

/// <summary>A bulk operation as of one moment.</summary>
public sealed record PowerOperationSnapshot(
    PowerBulkOperation Operation,
    PowerOperationState State,
    int Done,
    int Ok,
    int Failed,
    int TimedOut,
    TimeSpan Elapsed,
    DateTimeOffset? Finished,
    IReadOnlyList<BulkNodeResult?> Results)
{
    public int Pending => Operation.Requested - Done;

    /// <summary>Failed and timed-out nodes grouped by reason, most frequent first.</summary>
    public IReadOnlyList<(string Reason, int Count)> FailureReasons() =>
    [
        .. Results.Where(r => r is not null && r.Outcome != BulkOutcome.Ok)
            .GroupBy(r => r!.Reason ?? r.Outcome.ToString(), StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count()))
            .OrderByDescending(g => g.Item2)
            .ThenBy(g => g.Key, StringComparer.Ordinal),
    ];
}

/// <summary>The operations of one daemon: the running ones and the last finished ones, by id.</summary>
public sealed class PowerOperations(int history, int maxRunning, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, PowerBulkOperation> _byId = new(StringComparer.Ordinal);
    private readonly Queue<PowerBulkOperation> _finished = new();
    private int _running;

    /// <summary>Called when an operation starts (for the log).</summary>
    public Action<PowerBulkOperation>? OnStarted { get; init; }

    /// <summary>Called when an operation has ended (for the log).</summary>
    public Action<PowerBulkOperation>? OnFinished { get; init; }

    /// <summary>Every known operation, newest first.</summary>
    public IReadOnlyList<PowerBulkOperation> List()
    {
        lock (_lock)
        {
            return [.. _byId.Values.OrderByDescending(o => o.Started).ThenBy(o => o.Id, StringComparer.Ordinal)];
        }
    }

    public PowerBulkOperation? Get(string id)
    {
        lock (_lock)
        {
            return _byId.GetValueOrDefault(id);
        }
    }

    /// <summary>Registers and starts an operation; null when <see cref="PowerSettings.MaxRunningOperations"/> are running already.</summary>
    internal PowerBulkOperation? Start(PowerModule module, string action, PowerAction powerAction, IReadOnlyList<NodeId> nodes, bool setCfg, BulkPowerOptions options)
    {
        PowerBulkOperation op;
        lock (_lock)
        {
            if (_running >= maxRunning)
            {
                return null;
            }

            string id;
            do
            {
                id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
            }
            while (_byId.ContainsKey(id));

            op = new PowerBulkOperation(id, action, powerAction, nodes, setCfg, time);
            _byId.Add(id, op);
            _running++;
        }

        op.Completion.ContinueWith(_ => Finished(op), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        OnStarted?.Invoke(op);
        op.Start(module, options);
        return op;
    }

    /// <summary>Cancels every running operation and waits (up to <paramref name="timeout"/>) for them to end.</summary>
    internal async Task CancelAllAsync(TimeSpan timeout)
    {
        var running = List().Where(o => o.State == PowerOperationState.Running).ToList();
        foreach (var op in running)
        {
            op.Cancel();
        }

        await Task.WhenAny(Task.WhenAll(running.Select(o => o.Completion)), Task.Delay(timeout, time)).ConfigureAwait(false);
    }

    private void Finished(PowerBulkOperation op)
    {
        lock (_lock)
        {
            _running--;
            _finished.Enqueue(op);
            while (_finished.Count > history)
            {
                _byId.Remove(_finished.Dequeue().Id);
            }
        }

        OnFinished?.Invoke(op);
    }
}
