// A discrete-event clock: time stands still until advanced, and timers fire in due-time order.
namespace Kraken.Net.Execution;

/// <summary>
/// A <see cref="TimeProvider"/> on a virtual clock. Timers fire only when the clock is advanced, in order of
/// due time and then of creation, so runs are reproducible. With a <see cref="WorkQueue"/>, the clock runs
/// posted work to completion before it moves: <see cref="RunUntilIdle"/> and <see cref="Advance"/> never let
/// time pass while work is pending, which is what lets simulated hours pass in seconds.
/// </summary>
public sealed class VirtualTimeProvider : TimeProvider
{
    private readonly PriorityQueue<VirtualTimer, (long Due, long Seq)> _timers = new();
    private readonly Lock _lock = new();
    private readonly DateTimeOffset _epoch;
    private long _now;
    private long _seq;

    public VirtualTimeProvider(WorkQueue? work = null, DateTimeOffset? epoch = null)
    {
        Work = work ?? new WorkQueue();
        _epoch = epoch ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <summary>The work queue that runs before time moves.</summary>
    public WorkQueue Work { get; }

    /// <summary>Virtual time elapsed since the start.</summary>
    public TimeSpan Elapsed => TimeSpan.FromTicks(Volatile.Read(ref _now));

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Volatile.Read(ref _now);

    public override DateTimeOffset GetUtcNow() => _epoch + Elapsed;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>The number of armed timers.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_lock)
            {
                return _timers.Count;
            }
        }
    }

    /// <summary>When the next timer is due, or null when none is armed.</summary>
    public TimeSpan? NextDue
    {
        get
        {
            lock (_lock)
            {
                PruneStale();
                return _timers.TryPeek(out _, out var p) ? TimeSpan.FromTicks(p.Due) : null;
            }
        }
    }

    /// <summary>Runs queued work until none is left, without moving the clock.</summary>
    public int RunUntilIdle() => Work.RunPending();

    /// <summary>Moves the clock forward by <paramref name="delta"/>, firing timers and running work on the way.</summary>
    public void Advance(TimeSpan delta) => AdvanceTo(Elapsed + delta);

    /// <summary>Moves the clock to <paramref name="target"/>, firing every timer due on the way in order.</summary>
    public void AdvanceTo(TimeSpan target)
    {
        Work.RunPending();
        while (TryFireNext(target.Ticks))
        {
            Work.RunPending();
        }

        lock (_lock)
        {
            if (_now < target.Ticks)
            {
                Volatile.Write(ref _now, target.Ticks);
            }
        }

        Work.RunPending();
    }

    /// <summary>
    /// Jumps from due timer to due timer until <paramref name="condition"/> holds, nothing is left to do, or
    /// <paramref name="limit"/> of virtual time has passed. Returns whether the condition held.
    /// </summary>
    public bool RunUntil(Func<bool> condition, TimeSpan limit)
    {
        var end = Elapsed + limit;
        Work.RunPending();
        while (!condition())
        {
            if (!TryFireNext(end.Ticks))
            {
                return condition();
            }

            Work.RunPending();
        }

        return true;
    }

    private bool TryFireNext(long limitTicks)
    {
        VirtualTimer timer;
        lock (_lock)
        {
            PruneStale();
            if (!_timers.TryPeek(out timer!, out var p) || p.Due > limitTicks)
            {
                return false;
            }

            _timers.Dequeue();
            if (p.Due > _now)
            {
                Volatile.Write(ref _now, p.Due);
            }

            timer.Armed = false;
            if (timer.Period > 0)
            {
                Schedule(timer, _now + timer.Period);
            }
        }

        timer.Fire();
        return true;
    }

    private void PruneStale()
    {
        while (_timers.TryPeek(out var t, out var p) && (!t.Armed || t.Due != p.Due || t.Seq != p.Seq))
        {
            _timers.Dequeue();
        }
    }

    private void Schedule(VirtualTimer timer, long due)
    {
        timer.Due = due;
        timer.Seq = ++_seq;
        timer.Armed = true;
        _timers.Enqueue(timer, (due, timer.Seq));
    }

    private sealed class VirtualTimer(VirtualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public long Due;
        public long Seq;
        public long Period;
        public bool Armed;
        private bool _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            // The same contract as the system's timers: a negative time other than Infinite (-1 ms) is an error, so a
            // caller that computes a due time in the past fails here as it would in production.
            ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, Timeout.InfiniteTimeSpan);
            ArgumentOutOfRangeException.ThrowIfLessThan(period, Timeout.InfiniteTimeSpan);
            lock (owner._lock)
            {
                if (_disposed)
                {
                    return false;
                }

                Armed = false;
                Period = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? 0 : period.Ticks;
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    owner.Schedule(this, owner._now + Math.Max(0, dueTime.Ticks));
                }

                return true;
            }
        }

        public void Fire()
        {
            if (!_disposed)
            {
                callback(state);
            }
        }

        public void Dispose()
        {
            lock (owner._lock)
            {
                _disposed = true;
                Armed = false;
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
