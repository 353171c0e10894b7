// A serial executor backed by one dedicated loop, for engines running in the daemon.
using System.Threading.Channels;

namespace Kraken.Net.Execution;

public sealed class SerialExecutor : ISerialExecutor, IAsyncDisposable
{
    private readonly Channel<(Action<object?> Work, object? State)> _queue =
        Channel.CreateUnbounded<(Action<object?>, object?)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly Task _loop;
    private readonly Action<Exception>? _onError;

    /// <param name="onError">Called with any exception a work item throws; the loop goes on.</param>
    public SerialExecutor(Action<Exception>? onError = null)
    {
        _onError = onError;
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public void Post(Action<object?> work, object? state)
    {
        if (!_queue.Writer.TryWrite((work, state)))
        {
            throw new ObjectDisposedException(nameof(SerialExecutor));
        }
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                try
                {
                    item.Work(item.State);
                }
#pragma warning disable CA1031 // one failing work item must not stop the engine
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _onError?.Invoke(ex);
                }
            }
        }
    }

    /// <summary>Runs what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }
}
