// HTTP boot on Kestrel: kernel and initrd from the boot root with byte ranges, per-node iPXE scripts, fetch events.
using System.Globalization;
using System.Net;
using Kraken.Tree.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Net.Http.Headers;

namespace Kraken.Modules.Pxe.Http;

public sealed class HttpBootOptions
{
    /// <summary>Where to listen; default 0.0.0.0:8080. Port 0 picks a free port (see <see cref="HttpBootServer.LocalEndPoint"/>).</summary>
    public IPEndPoint Endpoint { get; set; } = new(IPAddress.Any, 8080);

    /// <summary>The directory served (kernel, initrd, ...); required.</summary>
    public string Root { get; set; } = "";

    /// <summary>Bytes copied per write while streaming a file.</summary>
    public int BufferSize { get; set; } = 64 * 1024;

    /// <summary>The meter for the counters; default the process-wide <see cref="HttpBootCounters.MeterName"/>.</summary>
    public System.Diagnostics.Metrics.Meter? Meter { get; set; }

    /// <summary>Connections open at once; further ones are closed as soon as they are accepted.</summary>
    public int MaxConnections { get; set; } = 1024;

    /// <summary>Connections open at once from one client address (a booting node uses one or two).</summary>
    public int MaxConnectionsPerClient { get; set; } = 8;

    /// <summary>Time a client has to send a request's headers; a connection that has not is closed (slow headers).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time an idle connection (before its first request or between requests) stays open.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest request line and headers together (bytes); requests here are a GET and a path.</summary>
    public int MaxRequestHeadersSize { get; set; } = 8 * 1024;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Endpoint, nameof(Endpoint));
        Check(BufferSize >= 512, nameof(BufferSize), $"must be at least 512, not {BufferSize}");
        Check(MaxConnections >= 1, nameof(MaxConnections), "must be at least 1");
        Check(MaxConnectionsPerClient >= 1, nameof(MaxConnectionsPerClient), "must be at least 1");
        Check(RequestHeadersTimeout > TimeSpan.Zero, nameof(RequestHeadersTimeout), "must be positive");
        Check(KeepAliveTimeout > TimeSpan.Zero, nameof(KeepAliveTimeout), "must be positive");
        Check(MaxRequestHeadersSize >= 1024, nameof(MaxRequestHeadersSize), "must be at least 1024");
    }

    private static void Check(bool ok, string name, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, $"HTTP boot option {name} {rule}.");
        }
    }
}

/// <summary>One finished GET: who fetched what, how many body bytes went out, and whether all of them did.</summary>
/// <param name="Client">The requester's address and port.</param>
/// <param name="Node">The node whose address made the request (or whose script it was); null for strangers.</param>
/// <param name="Path">The request path, <c>/vmlinuz</c> or <c>/boot/n1.ipxe</c>.</param>
/// <param name="Status">200 or 206.</param>
/// <param name="Bytes">Body bytes sent.</param>
/// <param name="Length">The full length of the file (not of the range).</param>
/// <param name="Completed">True when the whole response body was sent (a 206 completes its range).</param>
public sealed record HttpBootFetch(IPEndPoint Client, NodeId? Node, string Path, int Status, long Bytes, long Length, bool Completed);

/// <summary>
/// Serves the boot root and per-node iPXE scripts (<c>/boot/{node}.ipxe</c> by node id or name,
/// <c>/boot/mac/{mac}.ipxe</c> by MAC) over HTTP/1.1 on Kestrel. Files support single byte ranges
/// (<c>Range</c>, <c>If-Range</c>, 206 and 416); a request for several ranges gets the whole file (RFC 9110
/// lets a server ignore Range). Every GET raises <see cref="Fetched"/> when it ends.
/// </summary>
public sealed partial class HttpBootServer : IAsyncDisposable
{
    private const string ScriptPrefix = "/boot/";
    private const string MacPrefix = "/boot/mac/";
    private const string ScriptSuffix = ".ipxe";

    private readonly HttpBootOptions _options;
    private readonly BootFiles? _files;
    private readonly BootRoot _root;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConnectionLimits _connections;
    private WebApplication? _app;
    private long _lastRefusedLog = long.MinValue;

    /// <param name="options">Where to listen and what to serve.</param>
    /// <param name="files">Renders scripts and maps client addresses to nodes; null serves files only.</param>
    /// <param name="loggerFactory">For the server's and Kestrel's logs; none by default.</param>
    public HttpBootServer(HttpBootOptions options, BootFiles? files, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        _options = options;
        _files = files;
        _root = new BootRoot(options.Root);
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<HttpBootServer>();
        Counters = new HttpBootCounters(options.Meter);
        _connections = new ConnectionLimits(options.MaxConnections, options.MaxConnectionsPerClient, Counters);
    }

    /// <summary>Raised on a request thread as each GET ends; handlers must be quick.</summary>
    public event Action<HttpBootFetch>? Fetched;

    public HttpBootCounters Counters { get; }

    /// <summary>The bound endpoint (the port resolved when 0 was configured); valid after <see cref="StartAsync"/>.</summary>
    public IPEndPoint LocalEndPoint { get; private set; } = new(IPAddress.None, 0);

    /// <summary>The base URL of the bound endpoint, <c>http://198.18.0.1:8080</c>.</summary>
    public Uri BaseUri => new($"http://{(LocalEndPoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback : LocalEndPoint.Address)}:{LocalEndPoint.Port}");

    /// <summary>Binds and starts serving; returns once listening.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            throw new InvalidOperationException("The HTTP boot server is already started.");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_loggerFactory);

        // Its owner starts and stops it: the default console lifetime would stop it on SIGTERM by itself, in no
        // order with the daemon's shutdown.
        builder.Services.AddSingleton<IHostLifetime, OwnerLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            var limits = k.Limits;
            limits.RequestHeadersTimeout = _options.RequestHeadersTimeout;
            limits.KeepAliveTimeout = _options.KeepAliveTimeout;
            limits.MaxRequestHeadersTotalSize = _options.MaxRequestHeadersSize;
            limits.MaxRequestLineSize = Math.Min(limits.MaxRequestLineSize, _options.MaxRequestHeadersSize);
            limits.MaxRequestBodySize = 0;   // GET and HEAD only: nothing to upload
            k.Listen(_options.Endpoint, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(next => connection => _connections.RunAsync(connection, next));
            });
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        var address = app.Urls.Select(u => new Uri(u.Replace("[::]", "[::1]", StringComparison.Ordinal))).First();
        LocalEndPoint = new IPEndPoint(_options.Endpoint.Address, address.Port);
        Log.Listening(_logger, LocalEndPoint, _root.FullPath);
    }

    /// <summary>No signal handling: the server stops when its owner disposes it.</summary>
    private sealed class OwnerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var get = HttpMethods.IsGet(request.Method);
        if (!get && !HttpMethods.IsHead(request.Method))
        {
            Counters.Error(HttpBootError.Method);
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }

        var path = request.Path.Value ?? "/";
        var client = new IPEndPoint(context.Connection.RemoteIpAddress ?? IPAddress.None, context.Connection.RemotePort);
        if (path == "/" + BootstrapArchive.Path && _files?.Bootstrap is not null)
        {
            Counters.Request(script: true);
            await ServeBootstrapAsync(context, path, client, get).ConfigureAwait(false);
            return;
        }

        if (path.StartsWith(ScriptPrefix, StringComparison.Ordinal) && path.EndsWith(ScriptSuffix, StringComparison.Ordinal) && _files is not null)
        {
            Counters.Request(script: true);
            await ServeScriptAsync(context, path, client, get).ConfigureAwait(false);
            return;
        }

        Counters.Request(script: false);
        switch (_root.TryResolve(path, out var file))
        {
            case BootRoot.Result.Found:
                await ServeFileAsync(context, path, file, client, get).ConfigureAwait(false);
                return;
            case BootRoot.Result.Refused:
                Counters.Error(HttpBootError.Refused);
                LogRefused(client, path);
                response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            default:
                Counters.Error(HttpBootError.NotFound);
                response.StatusCode = StatusCodes.Status404NotFound;
                return;
        }
    }

    private async Task ServeScriptAsync(HttpContext context, string path, IPEndPoint client, bool get)
    {
        var name = path[ScriptPrefix.Length..^ScriptSuffix.Length];
        BootNode? node = null;
        if (path.StartsWith(MacPrefix, StringComparison.Ordinal))
        {
            if (BootNode.TryParseMac(path[MacPrefix.Length..^ScriptSuffix.Length], out var mac) && _files!.Nodes.TryGetByMac(mac, out var byMac))
            {
                node = byMac;
            }
        }
        else if (!name.Contains('/', StringComparison.Ordinal) && _files!.Nodes.TryGetByName(name, out var byName))
        {
            node = byName;
        }

        if (node is null)
        {
            Counters.Error(HttpBootError.NotFound);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        string script;
        try
        {
            script = _files!.RenderIpxe(node);
        }
        catch (BootRenderException e)
        {
            // Validation keeps such values out of Cfg; this is the last line, and a script with them is never sent.
            Log.NotRendered(_logger, client, path, e.Message);
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return;
        }

        var body = System.Text.Encoding.UTF8.GetBytes(script);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength = body.Length;
        response.Headers.CacheControl = "no-store";
        if (!get)
        {
            return;
        }

        var completed = false;
        try
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            await response.CompleteAsync().ConfigureAwait(false);
            completed = true;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client went away.
        }

        Finish(client, node.Id, path, StatusCodes.Status200OK, completed ? body.Length : 0, body.Length, completed);
    }

    /// <summary>
    /// A booting node's bootstrap archive: only to the node's own address, once per boot (a HEAD would spend it, so
    /// it is answered without one); anything else is 404, as for a node this server does not know.
    /// </summary>
    private async Task ServeBootstrapAsync(HttpContext context, string path, IPEndPoint client, bool get)
    {
        var response = context.Response;
        var body = get ? _files!.TryBootstrap(client.Address) : null;
        if (body is null)
        {
            Counters.Error(HttpBootError.NotFound);
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/octet-stream";
        response.ContentLength = body.Length;
        response.Headers.CacheControl = "no-store";
        var completed = false;
        try
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            await response.CompleteAsync().ConfigureAwait(false);
            completed = true;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The node went away mid-answer; its join will be refused and its boot retried.
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(body);
        }

        Finish(client, NodeOf(client.Address), path, StatusCodes.Status200OK, completed ? response.ContentLength ?? 0 : 0, response.ContentLength ?? 0, completed);
    }

    private async Task ServeFileAsync(HttpContext context, string path, string file, IPEndPoint client, bool get)
    {
        var response = context.Response;
        FileStream stream;
        try
        {
            stream = new FileStream(file, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read | FileShare.Delete, Options = FileOptions.Asynchronous | FileOptions.SequentialScan, BufferSize = 0 });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Counters.Error(HttpBootError.NotFound);
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        await using (stream.ConfigureAwait(false))
        {
            var length = stream.Length;
            var modified = File.GetLastWriteTimeUtc(file);
            var lastModified = new DateTimeOffset(modified.Ticks - (modified.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
            var etag = new EntityTagHeaderValue($"\"{length.ToString("x", CultureInfo.InvariantCulture)}-{modified.Ticks.ToString("x", CultureInfo.InvariantCulture)}\"");
            var headers = response.GetTypedHeaders();
            headers.LastModified = lastModified;
            headers.ETag = etag;
            response.Headers.AcceptRanges = "bytes";
            response.ContentType = "application/octet-stream";

            var (status, start, count) = ByteRanges.Select(context.Request, length, etag, lastModified);
            if (status == StatusCodes.Status416RangeNotSatisfiable)
            {
                Counters.Error(HttpBootError.NotSatisfiable);
                response.StatusCode = status;
                response.Headers.ContentRange = $"bytes */{length}";
                return;
            }

            response.StatusCode = status;
            response.ContentLength = count;
            if (status == StatusCodes.Status206PartialContent)
            {
                Counters.Range();
                response.Headers.ContentRange = $"bytes {start}-{start + count - 1}/{length}";
            }

            if (!get)
            {
                return;
            }

            var node = NodeOf(client.Address);
            var sent = 0L;
            var completed = false;
            var writer = response.BodyWriter;
            try
            {
                // The file is read straight into the response pipe's buffers: no intermediate copy.
                stream.Position = start;
                while (sent < count)
                {
                    var memory = writer.GetMemory(_options.BufferSize);
                    var want = (int)Math.Min(memory.Length, count - sent);
                    var read = await stream.ReadAsync(memory[..want], context.RequestAborted).ConfigureAwait(false);
                    if (read == 0)
                    {
                        // The file shrank under us: the promised length cannot be met, so the response is cut short.
                        context.Abort();
                        break;
                    }

                    writer.Advance(read);
                    sent += read;
                    var flush = await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
                    if (flush.IsCanceled || (flush.IsCompleted && sent < count))
                    {
                        break;
                    }
                }

                if (sent == count)
                {
                    await response.CompleteAsync().ConfigureAwait(false);
                    completed = !context.RequestAborted.IsCancellationRequested;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
            {
                // The client went away mid-transfer (or reset it): an aborted fetch.
            }

            Finish(client, node, path, status, sent, length, completed);
        }
    }

    /// <summary>At most one warning per 10 s: a scanner must not flood the log (the counter has every one).</summary>
    private void LogRefused(IPEndPoint client, string path)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastRefusedLog);
        if (now - last >= 10_000 && Interlocked.CompareExchange(ref _lastRefusedLog, now, last) == last)
        {
            Log.Refused(_logger, client, path, Counters.Refused);
        }
    }

    private NodeId? NodeOf(IPAddress address) =>
        _files is not null && _files.Nodes.TryGetByAddress(address, out var node) ? node.Id : null;

    private void Finish(IPEndPoint client, NodeId? node, string path, int status, long bytes, long length, bool completed)
    {
        Counters.Sent(bytes, completed);
        Log.Fetched(_logger, client, path, status, bytes, completed);
        try
        {
            Fetched?.Invoke(new HttpBootFetch(client, node, path, status, bytes, length, completed));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.HandlerFailed(_logger, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "HTTP boot listening on {EndPoint}, root {Root}")]
        public static partial void Listening(ILogger logger, IPEndPoint endPoint, string root);

        [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "{Client} GET {Path}: {Status}, {Bytes} bytes, completed {Completed}")]
        public static partial void Fetched(ILogger logger, IPEndPoint client, string path, int status, long bytes, bool completed);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Client} asked for {Path}, outside the boot root: refused ({Total} refused so far)")]
        public static partial void Refused(ILogger logger, IPEndPoint client, string path, long total);

        [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "A fetch handler failed")]
        public static partial void HandlerFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "{Client} asked for {Path}: the script cannot be rendered safely: {Reason}")]
        public static partial void NotRendered(ILogger logger, IPEndPoint client, string path, string reason);
    }
}
