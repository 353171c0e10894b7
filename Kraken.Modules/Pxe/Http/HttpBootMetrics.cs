// Counters of the HTTP boot server: plain fields for tests and the API, and instruments on meter Kraken.HttpBoot.
using System.Diagnostics.Metrics;

namespace Kraken.Modules.Pxe.Http;

/// <summary>What the HTTP boot server has done since it started. Thread-safe snapshot reads.</summary>
public sealed class HttpBootCounters
{
    public const string MeterName = "Kraken.HttpBoot";

    private static readonly Meter s_defaultMeter = new(MeterName);

    private readonly Counter<long> _requests;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _fetches;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _refusedConnections;
    private readonly UpDownCounter<long> _connections;
    private long _connectionCount;
    private long _refusedTotal;
    private long _refusedClient;
    private long _requestCount;
    private long _scripts;
    private long _files;
    private long _ranges;
    private long _bytesSent;
    private long _completed;
    private long _aborted;
    private long _notFound;
    private long _refused;
    private long _notSatisfiable;
    private long _badMethod;

    public HttpBootCounters(Meter? meter = null)
    {
        var m = meter ?? s_defaultMeter;
        _requests = m.CreateCounter<long>("kraken.httpboot.requests", "{request}", "HTTP boot requests by kind (file, script).");
        _bytes = m.CreateCounter<long>("kraken.httpboot.sent", "By", "Response body bytes sent.");
        _fetches = m.CreateCounter<long>("kraken.httpboot.fetches.finished", "{fetch}", "Finished GETs by result (completed, aborted).");
        _errors = m.CreateCounter<long>("kraken.httpboot.requests.refused", "{request}", "Requests refused, by reason (not_found, refused, range, method).");
        _connections = m.CreateUpDownCounter<long>("kraken.httpboot.connections.open", "{connection}", "Connections open.");
        _refusedConnections = m.CreateCounter<long>("kraken.httpboot.connections.refused", "{connection}", "Connections closed on arrival, by limit (total, client).");

        // Every series at zero from the server's creation (docs/daemon.md, "Metrics").
        _bytes.Add(0);
        _connections.Add(0);
        foreach (var kind in (ReadOnlySpan<string>)["file", "script"])
        {
            _requests.Add(0, new KeyValuePair<string, object?>("kind", kind));
        }

        foreach (var result in (ReadOnlySpan<string>)["completed", "aborted"])
        {
            _fetches.Add(0, new KeyValuePair<string, object?>("result", result));
        }

        foreach (var error in Enum.GetValues<HttpBootError>())
        {
            _errors.Add(0, ErrorTag(error));
        }

        foreach (var limit in (ReadOnlySpan<string>)["total", "client"])
        {
            _refusedConnections.Add(0, new KeyValuePair<string, object?>("limit", limit));
        }
    }

    /// <summary>Connections open now.</summary>
    public long Connections => Interlocked.Read(ref _connectionCount);

    /// <summary>Connections closed on arrival because <see cref="HttpBootOptions.MaxConnections"/> were open.</summary>
    public long ConnectionsRefusedTotal => Interlocked.Read(ref _refusedTotal);

    /// <summary>Connections closed on arrival because their address had <see cref="HttpBootOptions.MaxConnectionsPerClient"/> open.</summary>
    public long ConnectionsRefusedClient => Interlocked.Read(ref _refusedClient);

    public long Requests => Interlocked.Read(ref _requestCount);

    public long Scripts => Interlocked.Read(ref _scripts);

    public long Files => Interlocked.Read(ref _files);

    /// <summary>Partial responses (206).</summary>
    public long Ranges => Interlocked.Read(ref _ranges);

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public long Completed => Interlocked.Read(ref _completed);

    public long Aborted => Interlocked.Read(ref _aborted);

    public long NotFound => Interlocked.Read(ref _notFound);

    /// <summary>Paths that tried to leave the boot root.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public long NotSatisfiable => Interlocked.Read(ref _notSatisfiable);

    public long BadMethod => Interlocked.Read(ref _badMethod);

    internal void Request(bool script)
    {
        Interlocked.Increment(ref _requestCount);
        Interlocked.Increment(ref (script ? ref _scripts : ref _files));
        _requests.Add(1, new KeyValuePair<string, object?>("kind", script ? "script" : "file"));
    }

    internal void ConnectionOpened(int delta)
    {
        Interlocked.Add(ref _connectionCount, delta);
        _connections.Add(delta);
    }

    internal void ConnectionRefused(HttpBootConnectionRefusal why)
    {
        Interlocked.Increment(ref (why == HttpBootConnectionRefusal.Total ? ref _refusedTotal : ref _refusedClient));
        _refusedConnections.Add(1, new KeyValuePair<string, object?>("limit", why == HttpBootConnectionRefusal.Total ? "total" : "client"));
    }

    internal void Range() => Interlocked.Increment(ref _ranges);

    internal void Sent(long bytes, bool completed)
    {
        Interlocked.Add(ref _bytesSent, bytes);
        Interlocked.Increment(ref (completed ? ref _completed : ref _aborted));
        _bytes.Add(bytes);
        _fetches.Add(1, new KeyValuePair<string, object?>("result", completed ? "completed" : "aborted"));
    }

    internal void Error(HttpBootError error)
    {
        switch (error)
        {
            case HttpBootError.NotFound: Interlocked.Increment(ref _notFound); break;
            case HttpBootError.Refused: Interlocked.Increment(ref _refused); break;
            case HttpBootError.NotSatisfiable: Interlocked.Increment(ref _notSatisfiable); break;
            default: Interlocked.Increment(ref _badMethod); break;
        }

        _errors.Add(1, ErrorTag(error));
    }

    private static KeyValuePair<string, object?> ErrorTag(HttpBootError error) => new("reason", error switch
    {
        HttpBootError.NotFound => "not_found",
        HttpBootError.Refused => "refused",
        HttpBootError.NotSatisfiable => "range",
        _ => "method",
    });
}

internal enum HttpBootConnectionRefusal
{
    Total,
    Client,
}

internal enum HttpBootError
{
    NotFound,
    Refused,
    NotSatisfiable,
    Method,
}
