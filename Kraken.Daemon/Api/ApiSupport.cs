// Shared pieces of the REST API: the bearer-token gate, RFC 7807 problems, JSON bodies in and out.
using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Tree.State;
using Kraken.Tree.StateFiles;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Api;

/// <summary>A request the API refuses, with the status and the text of its problem details.</summary>
public sealed class ApiProblemException(int status, string title, string detail, IReadOnlyList<string>? errors = null) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    public IReadOnlyList<string>? Errors { get; } = errors;
}

internal static class ApiSupport
{
    public const string JsonContentType = "application/json";

    private static readonly JsonWriterOptions s_writerOptions = new() { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The API's JSON: compact, with the relaxed escaping every answer uses.</summary>
    public static JsonWriterOptions WriterOptions => s_writerOptions;

    /// <summary>Endpoint filter: writes, and reads that call hardware, need "Authorization: Bearer &lt;token&gt;" matching Api:Token.</summary>
    public static ValueTask<object?> RequireToken(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var daemon = context.HttpContext.RequestServices.GetRequiredService<KrakenDaemon>();
        var expected = daemon.Options.Token;
        if (expected is null)
        {
            return ValueTask.FromResult<object?>(Problem(StatusCodes.Status401Unauthorized, "Writes are disabled", "This daemon has no API token configured (Api:Token or Api:TokenFile), so it refuses every write and every read that calls hardware."));
        }

        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return ValueTask.FromResult<object?>(Problem(StatusCodes.Status401Unauthorized, "Missing bearer token", "Writes, and reads that call hardware (power status), need the header \"Authorization: Bearer <token>\"."));
        }

        // Compare digests, so neither the content nor the length of the token shows in the timing.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim()));
        if (!CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(expected))))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            return ValueTask.FromResult<object?>(Problem(StatusCodes.Status401Unauthorized, "Invalid bearer token", "The bearer token does not match this daemon's Api:Token."));
        }

        return next(context);
    }

    /// <summary>Endpoint filter: turns the exceptions of bad input into problem details.</summary>
    public static async ValueTask<object?> MapErrors(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ToProblem(ex) is { } problem)
        {
            return problem;
        }
    }

    public static IResult? ToProblem(Exception ex) => ex switch
    {
        ApiProblemException p => Problem(p.Status, p.Title, p.Message, p.Errors),
        StateJournalException j => Problem(StatusCodes.Status503ServiceUnavailable, "Store unavailable", j.Message),
        UnknownStateUrlException u => Problem(StatusCodes.Status400BadRequest, "Unknown state URL", u.Message, url: u.Url),
        InvalidStateValueException v => Problem(StatusCodes.Status400BadRequest, "Invalid value", v.Message, url: v.Url),
        NodeNotFoundException n => Problem(StatusCodes.Status404NotFound, "No such node", n.Message),
        NodeExistsException e => Problem(StatusCodes.Status409Conflict, "Node exists", e.Message),
        VersionConflictException c => Problem(StatusCodes.Status412PreconditionFailed, "Version conflict", c.Message),
        StateFileException f => Problem(StatusCodes.Status400BadRequest, "Invalid nodes", f.Errors.Count > 0 ? $"{f.Errors.Count} error(s); nothing was changed." : f.Message, [.. f.Errors.Select(e => e.ToString())]),
        StateException s => Problem(StatusCodes.Status400BadRequest, "Invalid state", s.Message, url: s.Url),
        JsonException j => Problem(StatusCodes.Status400BadRequest, "Invalid JSON", j.Message),
        BadHttpRequestException b => Problem(b.StatusCode, "Bad request", b.Message),
        _ => null,
    };

    public static IResult Problem(int status, string title, string detail, IReadOnlyList<string>? errors = null, string? url = null)
    {
        var extensions = new Dictionary<string, object?>();
        if (errors is { Count: > 0 })
        {
            // A plain array: its JSON metadata is generated (DaemonJsonContext); a collection expression's hidden type has none.
            extensions["errors"] = errors.ToArray();
        }

        if (url is not null)
        {
            extensions["url"] = url;
        }

        return Results.Problem(detail: detail, statusCode: status, title: title, extensions: extensions);
    }

    public static ApiProblemException BadRequest(string title, string detail) => new(StatusCodes.Status400BadRequest, title, detail);

    public static NodeId ParseId(string text, string what = "id") =>
        NodeId.TryParse(text, out var id) && !id.IsNil ? id : throw BadRequest("Invalid node id", $"The {what} '{text}' is not a non-nil UUID.");

    public static StateView ParseView(string text) => text switch
    {
        "cfg" => StateView.Cfg,
        "dsc" => StateView.Dsc,
        _ => throw new ApiProblemException(StatusCodes.Status404NotFound, "No such view", $"'{text}' is not a view; use cfg or dsc."),
    };

    /// <summary>A writable leaf URL, or a 400 naming it.</summary>
    public static StateUrl ResolveLeaf(StateSchema schema, string url)
    {
        if (!url.StartsWith('/'))
        {
            url = "/" + url;
        }

        var resolved = schema.Resolve(url);
        if (!resolved.IsLeaf)
        {
            throw new UnknownStateUrlException(url, $"{url} is not a value but a container; name one of its values.");
        }

        if (resolved.ReadOnly)
        {
            throw new InvalidStateValueException(url, $"{url} cannot be changed.");
        }

        return resolved;
    }

    /// <summary>Parses a JSON value (string, number, bool or null for "unset") for <paramref name="url"/>.</summary>
    public static StateValue ParseValue(StateUrl url, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => StateValue.None,
        JsonValueKind.String => NodeEditor.Parse(url, value.GetString()!),
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => NodeEditor.Parse(url, value.GetRawText()),
        _ => throw new InvalidStateValueException(url.Path, $"Invalid value for {url.Path}: expected a string, number, boolean or null, got {value.ValueKind}."),
    };

    /// <summary>An object of URL to value ({"/PhysState": "POWER_ON"}), parsed and validated whole.</summary>
    public static KeyValuePair<StateUrl, StateValue>[] ParseValues(StateSchema schema, JsonElement obj, string what)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            throw BadRequest("Invalid values", $"{what} must be an object of state URL to value, e.g. {{\"/PhysState\": \"POWER_ON\"}}.");
        }

        var values = new List<KeyValuePair<StateUrl, StateValue>>();
        foreach (var p in obj.EnumerateObject())
        {
            var url = ResolveLeaf(schema, p.Name);
            values.Add(new(url, ParseValue(url, p.Value)));
        }

        return values.Count > 0 ? [.. values] : throw BadRequest("Invalid values", $"{what} names no values.");
    }

    public static async Task<JsonDocument> ReadJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 64 }, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            throw BadRequest("Invalid JSON", $"The request body is not valid JSON: {ex.Message}");
        }
    }

    public static async Task<byte[]> ReadBytesAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var ms = new MemoryStream();
        await request.Body.CopyToAsync(ms, cancellationToken).ConfigureAwait(false);
        return ms.ToArray();
    }

    /// <summary>
    /// Reads node records from a body that is one node object, an array of them, or {"nodes": [...]}, validated
    /// against the stored nodes that matter to them (<see cref="CfgNeighbourhood"/>).
    /// </summary>
    public static IReadOnlyList<NodeRecord> ReadNodes(StateStore store, CfgNeighbourhood neighbourhood, byte[] body, bool single)
    {
        var trimmed = Encoding.UTF8.GetString(body).Trim();
        if (trimmed.Length == 0)
        {
            throw BadRequest("Invalid JSON", "The request body is empty.");
        }

        var wrapped = trimmed[0] == '{' && !LooksLikeList(trimmed) ? $"{{\"nodes\":[{trimmed}]}}" : trimmed;
        // First pass: the nodes as written; second: checked against their parents and address holders.
        var written = StateFileReader.Read(wrapped, store.Schema);
        var content = StateFileReader.Read(wrapped, store.Schema, neighbourhood.Related(written.Nodes)).ThrowIfInvalid();
        if (single && content.Nodes.Count != 1)
        {
            throw BadRequest("Invalid node", $"Expected one node, got {content.Nodes.Count}.");
        }

        return content.Nodes;
    }

    private static bool LooksLikeList(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.ValueKind == JsonValueKind.Object && (doc.RootElement.TryGetProperty("nodes", out _) || doc.RootElement.TryGetProperty("format", out _));
    }

    public static IResult Json(Action<Utf8JsonWriter> write, int status = StatusCodes.Status200OK)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            write(w);
        }

        var bytes = buffer.WrittenSpan.ToArray();
        return status == StatusCodes.Status200OK
            ? Results.Bytes(bytes, JsonContentType)
            : Results.Text(System.Text.Encoding.UTF8.GetString(bytes), JsonContentType, System.Text.Encoding.UTF8, status);
    }

    public static void WriteValue(Utf8JsonWriter w, string name, StateValue value)
    {
        if (value.IsSet)
        {
            w.WriteString(name, value.ToString());
        }
        else
        {
            w.WriteNull(name);
        }
    }

    public static void WriteValues(Utf8JsonWriter w, NodeRecord record)
    {
        w.WriteStartObject();
        foreach (var (url, value) in record.Values().OrderBy(kv => kv.Key.Path, StringComparer.Ordinal))
        {
            WriteValue(w, url.Path, value);
        }

        w.WriteEndObject();
    }
}
