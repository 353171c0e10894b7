// Answers that grow with the cluster (exports, whole node lists): written to the response as they are read, a
// few at a time; the rest are refused with 503 and Retry-After instead of queueing in memory.
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Api;

/// <summary>
/// Bounds how many cluster-sized answers are written at once (<c>Api:MaxConcurrentExports</c>). Each one
/// streams, so it costs a write buffer and an array of references to the (shared, immutable) records, but a
/// slow reader holds its snapshot for as long as it reads; the bound keeps that from adding up.
/// </summary>
public sealed partial class LargeResponseGate
{
    /// <summary>What a refused request is told to wait before it tries again.</summary>
    public const int RetryAfterSeconds = 2;

    /// <summary>Bytes a streamed answer holds before it writes them out.</summary>
    internal const int FlushBytes = 64 * 1024;

    private readonly ILogger<LargeResponseGate> _logger;
    private int _running;
    private long _refused;

    public LargeResponseGate(DaemonOptions options, ILogger<LargeResponseGate> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        Limit = options.Api.MaxConcurrentExports;
        _logger = logger;
    }

    public int Limit { get; }

    public int Running => Volatile.Read(ref _running);

    /// <summary>Requests refused because <see cref="Limit"/> answers were being written (kraken_api_large_responses_refused_total).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Writes an answer through <paramref name="write"/> (given the response body and the request's abort token) if
    /// a place is free, else answers 503 with Retry-After and a problem naming the limit.
    /// </summary>
    internal IResult Stream(HttpContext http, string what, string contentType, Func<Stream, CancellationToken, Task> write)
    {
        if (Interlocked.Increment(ref _running) > Limit)
        {
            Interlocked.Decrement(ref _running);
            Interlocked.Increment(ref _refused);
            http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiSupport.Problem(
                StatusCodes.Status503ServiceUnavailable,
                "Too many large answers",
                $"{Limit} exports or whole node lists are being written (Api:MaxConcurrentExports); {what} is refused, retry after {RetryAfterSeconds} s.");
        }

        return new StreamedResult(this, contentType, write);
    }

    /// <summary>{"nodes": [...]}, one node after another by <paramref name="writeNode"/>, in the API's compact JSON.</summary>
    internal IResult StreamNodeList(HttpContext http, string what, Func<IEnumerable<NodeRecord>> nodes, Action<Utf8JsonWriter, NodeRecord> writeNode) =>
        Stream(http, what, ApiSupport.JsonContentType, async (body, ct) =>
        {
            await using var w = new Utf8JsonWriter(body, ApiSupport.WriterOptions);
            w.WriteStartObject();
            w.WriteStartArray("nodes");
            foreach (var n in nodes())
            {
                writeNode(w, n);
                if (w.BytesPending >= FlushBytes)
                {
                    await w.FlushAsync(ct).ConfigureAwait(false);
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
            await w.FlushAsync(ct).ConfigureAwait(false);
        });

    private void Leave() => Interlocked.Decrement(ref _running);

    /// <summary>Holds the gate's place from the first byte to the last, so the bound counts answers being written.</summary>
    private sealed class StreamedResult(LargeResponseGate gate, string contentType, Func<Stream, CancellationToken, Task> write) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            try
            {
                httpContext.Response.StatusCode = StatusCodes.Status200OK;
                httpContext.Response.ContentType = contentType;
                await write(httpContext.Response.Body, httpContext.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException && httpContext.RequestAborted.IsCancellationRequested)
            {
                // The client left mid-answer: nothing to tell it, nothing worth a stack trace.
                Log.ClientLeft(gate._logger, httpContext.Request.Path);
            }
            finally
            {
                gate.Leave();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 700, Level = LogLevel.Debug, Message = "The client of {Path} left before the answer was written")]
        public static partial void ClientLeft(ILogger logger, PathString path);
    }
}
