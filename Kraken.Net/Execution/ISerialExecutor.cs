// The execution seam of every engine: work runs one item at a time, in the order posted.
namespace Kraken.Net.Execution;

/// <summary>
/// Runs posted work items one at a time, in posting order. Engines (reconcile, sync) are single-threaded
/// state machines that only ever run on their executor, so they need no locks. The daemon gives each engine
/// a <see cref="SerialExecutor"/> (a dedicated loop); the simulator and tests use <see cref="ManualExecutor"/>
/// driven by a <see cref="VirtualTimeProvider"/>, which makes whole clusters deterministic.
/// </summary>
public interface ISerialExecutor
{
    /// <summary>Queues <paramref name="work"/>; never runs it inline.</summary>
    void Post(Action<object?> work, object? state);
}

public static class SerialExecutorExtensions
{
    public static void Post(this ISerialExecutor executor, Action work) => executor.Post(static s => ((Action)s!)(), work);

    /// <summary>Runs <paramref name="work"/> on the executor and completes with its result.</summary>
    public static Task<T> InvokeAsync<T>(this ISerialExecutor executor, Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        executor.Post(() =>
        {
            try
            {
                tcs.SetResult(work());
            }
            catch (Exception ex)
            {
                tcs.SetException(ex);
            }
        });
        return tcs.Task;
    }

    /// <summary>A timer from <paramref name="time"/> whose callback runs on the executor, not on a timer thread.</summary>
    public static ITimer CreateTimer(this ISerialExecutor executor, TimeProvider time, Action<object?> callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        time.CreateTimer(s => executor.Post(callback, s), state, dueTime, period);
}
