// Delivery to one event-stream client (SSE or WebSocket): every write under a deadline, and a stream that ends
// because the client left, stalled or fell behind ends with one log line, never a stack trace.
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Events;

/// <summary>How a client's stream ended.</summary>
internal enum PumpEnd
{
    /// <summary>The hub completed the stream (the daemon is stopping) or the caller's token ended it.</summary>
    Completed,

    /// <summary>The client's buffer overflowed; it was told so if the transport can say it.</summary>
    Overflow,

    /// <summary>A write outlasted Api:EventWriteTimeout; the connection has been aborted.</summary>
    Deadline,

    /// <summary>The client went away (closed, reset, aborted).</summary>
    ClientLeft,
}

public sealed partial class EventHub
{
    private const string OverflowJson = "{\"type\":\"overflow\"}";

    /// <summary>The key in HttpContext.Items that says the client's leaving has been logged.</summary>
    private static readonly object s_leftLogged = new();

    /// <summary>
    /// Sends <paramref name="subscription"/>'s events through <paramref name="send"/> until the stream ends. Each
    /// send has <c>Api:EventWriteTimeout</c>: a client that does not take it in time (its socket buffers are full
    /// because it stopped reading) is disconnected and counted, so a stalled client holds neither a connection nor
    /// more than its bounded buffer of events. <paramref name="transport"/> names the stream in the log;
    /// <paramref name="notifyOverflow"/> sends an "overflow" event before ending a client that fell behind;
    /// <paramref name="opening"/> sends the subscription's <see cref="Subscription.Opening"/> (its position, or what a
    /// reconnecting client missed) before the live events; transports that cannot resume leave it out.
    /// </summary>
    internal async Task<PumpEnd> PumpAsync(HttpContext http, Subscription subscription, string transport, Func<DaemonEvent, CancellationToken, Task> send, bool notifyOverflow, CancellationToken cancellationToken, bool opening = false)
    {
        // One deadline per stream, armed around each send by a timer. The source is never reset: TryReset would also
        // drop its registrations (the linked token and the abort below), after which a missed deadline cancels nothing.
        using var deadline = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var timer = _daemon.Time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), deadline, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

        // Abort as well as cancel: a write blocked on a peer that never reads must end even where the transport
        // does not watch the token.
        using var abort = deadline.Token.Register(static s => ((HttpContext)s!).Abort(), http);
        try
        {
            try
            {
                if (opening)
                {
                    foreach (var e in subscription.Opening())
                    {
                        await SendAsync(e).ConfigureAwait(false);
                    }
                }

                await foreach (var e in subscription.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    await SendAsync(e).ConfigureAwait(false);
                }

                return PumpEnd.Completed;
            }
            catch (ChannelClosedException)
            {
                Interlocked.Increment(ref _droppedOverflow);
                Log.DroppedOverflow(_logger, transport, Remote(http), _buffer);
                if (notifyOverflow)
                {
                    await SendAsync(new DaemonEvent("overflow", OverflowJson)).ConfigureAwait(false);
                }

                return PumpEnd.Overflow;
            }
        }
        catch (Exception) when (deadline.IsCancellationRequested)
        {
            // Checked first: the deadline's abort also ends the request, which would otherwise read as the client leaving.
            Interlocked.Increment(ref _droppedDeadline);
            Log.DroppedDeadline(_logger, transport, Remote(http), _writeTimeout.TotalSeconds);
            return PumpEnd.Deadline;
        }
        catch (Exception ex) when (http.RequestAborted.IsCancellationRequested || (IsClientGone(ex) && ex is not OperationCanceledException))
        {
            LogClientLeft(http, transport, ex);
            return PumpEnd.ClientLeft;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return PumpEnd.Completed;
        }

        async Task SendAsync(DaemonEvent e)
        {
            timer.Change(_writeTimeout, Timeout.InfiniteTimeSpan);
            var sending = send(e, linked.Token);
            if (!sending.IsCompleted)
            {
                // The deadline ends the wait even where the transport's own write does not end on cancel or abort (a
                // write blocked inside an upgraded connection's stream); that write's late outcome is observed, not lost.
                _ = sending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                await sending.WaitAsync(linked.Token).ConfigureAwait(false);
            }
            else
            {
                await sending.ConfigureAwait(false);
            }

            timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

            // The deadline fired during the send (it completed anyway): treat it as missed.
            deadline.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Closes a WebSocket whose stream ended, within the write deadline; a client that is gone or stalled is left as it is.</summary>
    internal async Task CloseAsync(HttpContext http, WebSocket socket, string reason, string transport)
    {
        if (socket.State != WebSocketState.Open)
        {
            return;
        }

        using var deadline = new CancellationTokenSource(_writeTimeout, _daemon.Time);
        try
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, reason, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException || IsClientGone(ex))
        {
            LogClientLeft(http, transport, ex);
        }
    }

    /// <summary>One Debug line for a client that went away, with the reason and no stack trace; once per connection.</summary>
    internal void LogClientLeft(HttpContext http, string transport, Exception ex)
    {
        if (http.Items.TryAdd(s_leftLogged, true))
        {
            Log.ClientLeft(_logger, transport, Remote(http), ex is OperationCanceledException ? "connection closed" : (ex.InnerException ?? ex).Message);
        }
    }

    /// <summary>What a write or read to a client throws when the client is gone: reset, closed without a close frame, aborted.</summary>
    internal static bool IsClientGone(Exception ex) =>
        ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException;

    private static string Remote(HttpContext http) => $"{http.Connection.RemoteIpAddress}:{http.Connection.RemotePort}";

    private static partial class Log
    {
        [LoggerMessage(EventId = 710, Level = LogLevel.Information, Message = "Dropped {Transport} subscriber {Remote}: a write took longer than {Seconds} s (Api:EventWriteTimeout); the client stopped reading")]
        public static partial void DroppedDeadline(ILogger logger, string transport, string remote, double seconds);

        [LoggerMessage(EventId = 711, Level = LogLevel.Information, Message = "Dropped {Transport} subscriber {Remote}: it fell {Buffer} events behind (Api:EventBuffer)")]
        public static partial void DroppedOverflow(ILogger logger, string transport, string remote, int buffer);

        [LoggerMessage(EventId = 712, Level = LogLevel.Debug, Message = "{Transport} subscriber {Remote} left: {Reason}")]
        public static partial void ClientLeft(ILogger logger, string transport, string remote, string reason);
    }
}
