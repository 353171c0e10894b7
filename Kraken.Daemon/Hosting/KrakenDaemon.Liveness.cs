// Whether the engines still run work: what the systemd watchdog keep-alive is sent on.
using Kraken.Net.Execution;

namespace Kraken.Daemon.Hosting;

public sealed partial class KrakenDaemon
{
    /// <summary>
    /// True once the sync and the reconcile executors have each run an empty work item, so neither loop is stuck
    /// behind a blocked item; false when the daemon is not running. A loop that never gets to it leaves the task
    /// incomplete: the caller bounds the wait.
    /// </summary>
    public async Task<bool> EnginesRespondAsync()
    {
        if (_syncExecutor is not { } sync || _reconcileExecutor is not { } reconcile || _stopping.IsCancellationRequested)
        {
            return false;
        }

        try
        {
            var a = sync.InvokeAsync(static () => true);
            var b = reconcile.InvokeAsync(static () => true);
            return await a.ConfigureAwait(false) && await b.ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Stopping: the executors are gone.
            return false;
        }
    }
}
