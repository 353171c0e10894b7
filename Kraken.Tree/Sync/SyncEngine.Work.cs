// Every timer and posted pass of the sync engine runs through one guard, so a failure inside one never switches
// off the mechanism it drives.

namespace Kraken.Tree.Sync;

/// <summary>The engine's timers and posted passes, as named in logs and on <c>/metrics</c>.</summary>
public enum SyncWork : byte
{
    /// <summary>Hellos and dead-interval checks.</summary>
    Tick,

    /// <summary>Sending dirty records, when their time came.</summary>
    FlushTimer,

    /// <summary>Sending dirty records at once (posted within a pass).</summary>
    Flush,

    /// <summary>Resending unacknowledged records.</summary>
    Retransmit,

    /// <summary>The periodic full refresh.</summary>
    Refresh,

    /// <summary>Store changes turned into dirty records.</summary>
    Drain,

    /// <summary>A join attempt or its deadline.</summary>
    Join,

    /// <summary>A fail-back attempt to the primary parent.</summary>
    Failback,
}

public sealed partial class SyncEngine
{
    internal static readonly string[] WorkNames = ["tick", "flush_timer", "flush", "retransmit", "refresh", "drain", "join", "failback"];

    /// <summary>
    /// Runs one timer callback or posted pass. If it throws (a bug, a store or transport fault), the failure is
    /// logged and counted and the mechanism armed again one hello interval later: before this guard a
    /// retransmit pass that failed left its timer disarmed for good, and the records it had to resend stayed
    /// stale until the full refresh. Once stopped, failures go to the executor as before.
    /// </summary>
    private void Run(SyncWork work)
    {
        try
        {
            switch (work)
            {
                case SyncWork.Tick:
                    OnTick();
                    break;
                case SyncWork.FlushTimer:
                    OnFlushTimer();
                    break;
                case SyncWork.Flush:
                    Flush();
                    break;
                case SyncWork.Retransmit:
                    OnRetransmit();
                    break;
                case SyncWork.Refresh:
                    OnRefresh();
                    break;
                case SyncWork.Drain:
                    DrainChanges();
                    break;
                case SyncWork.Join:
                    OnJoinTimer();
                    break;
                case SyncWork.Failback:
                    OnFailbackTimer();
                    break;
            }
        }
#pragma warning disable CA1031 // any failure is logged, counted and recovered from; the engine goes on
        catch (Exception ex) when (!_stopped)
#pragma warning restore CA1031
        {
            var count = Counters.OnWorkFailed(work);
            SyncLog.WorkFailed(_logger, ex, WorkNames[(int)work], count, Recover(work));
        }
    }

    /// <summary>Arms <paramref name="work"/>'s mechanism again after a failure; returns what it did, for the log.</summary>
    private string Recover(SyncWork work)
    {
        var retry = _options.HelloInterval;
        switch (work)
        {
            case SyncWork.Tick:
                _tickTimer?.Change(retry, Timeout.InfiniteTimeSpan);
                return $"hellos resume in {retry}";
            case SyncWork.FlushTimer or SyncWork.Flush:
                _flushPosted = false;
                _flushDue = TimeSpan.MaxValue;
                ScheduleFlush(Now + retry);
                ScheduleRetransmit(Now + retry);
                return $"dirty records are sent again in {retry}";
            case SyncWork.Retransmit:
                _retransmitDue = TimeSpan.MaxValue;
                ScheduleRetransmit(Now + retry);
                return $"retransmission resumes in {retry}";
            case SyncWork.Drain:
                lock (_changesLock)
                {
                    _draining.Clear();
                }

                return "the changes of this pass are left to the hello digests' repair";
            case SyncWork.Join:
                ArmJoin(retry);
                return $"joining resumes in {retry}";
            case SyncWork.Failback:
                _failbackTimer?.Change(retry, Timeout.InfiniteTimeSpan);
                return $"fail-back is tried again in {retry}";
            default:
                return "the next refresh runs as planned";
        }
    }
}
