// The client side of the verbs: HTTP calls to a daemon's API, with problem details turned into clear errors.
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Kraken.Daemon.Cli;

/// <summary>An error to print and exit non-zero with.</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

internal sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    public ApiClient(Uri server, string? token, TimeSpan timeout)
    {
        _http = new HttpClient { BaseAddress = server, Timeout = timeout };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public Uri Server => _http.BaseAddress!;

    public Task<string> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, null, ct);

    public Task<string> SendJsonAsync(HttpMethod method, string path, string? json, CancellationToken ct) =>
        SendAsync(method, path, json, "application/json", ct);

    public async Task<string> SendAsync(HttpMethod method, string path, string? body, string? contentType, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType ?? "application/json");
        }

        using var response = await Send(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new CliException(Describe(response, text));
        }

        return text;
    }

    /// <summary>Opens a streaming GET (the event stream); <paramref name="lastEventId"/> resumes after that event.</summary>
    public async Task<HttpResponseMessage> OpenStreamAsync(string path, CancellationToken ct, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        var response = await Send(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            response.Dispose();
            throw new CliException(Describe(response, text));
        }

        return response;
    }

    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> Send(HttpRequestMessage request, HttpCompletionOption option, CancellationToken ct)
    {
        try
        {
            return await _http.SendAsync(request, option, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"cannot reach {Server}: {ex.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CliException($"{Server} did not answer within {_http.Timeout.TotalSeconds:0} s");
        }
    }

    /// <summary>"409 Node exists: Node ... already exists." from problem details, or the status and body.</summary>
    private static string Describe(HttpResponseMessage response, string body)
    {
        var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("title", out var title))
            {
                var sb = new StringBuilder($"{status}: {title.GetString()}");
                if (root.TryGetProperty("detail", out var detail))
                {
                    sb.Append(": ").Append(detail.GetString());
                }

                if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
                {
                    foreach (var e in errors.EnumerateArray())
                    {
                        sb.Append("\n  ").Append(e.GetString());
                    }
                }

                return sb.ToString();
            }
        }
        catch (JsonException)
        {
            // Not problem details: fall back to the raw body.
        }

        return string.IsNullOrWhiteSpace(body) ? status : $"{status}: {body.Trim()}";
    }
}
