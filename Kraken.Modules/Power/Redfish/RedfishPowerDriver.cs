// The Redfish power driver: service root, Systems, PowerState and ComputerSystem.Reset over HttpClient.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kraken.Modules.Power.Redfish;

/// <summary>
/// Power control over Redfish (DMTF DSP0266): finds the system through the service root and the Systems
/// collection (the member named by <c>/Extensions/Power/System</c>, or the only one), reads
/// <c>PowerState</c>, and posts <c>ComputerSystem.Reset</c> with a <c>ResetType</c> the system allows.
/// Authenticates with a reused session (X-Auth-Token) or HTTP Basic. Replies are size-limited and parsed
/// strictly; anything unexpected is a <see cref="PowerErrorKind.Protocol"/> error naming the URL.
/// </summary>
public sealed class RedfishPowerDriver : IPowerDriver, IDisposable
{
    private readonly ICredentialProvider _credentials;
    private readonly RedfishOptions _options;
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _systems = new(StringComparer.Ordinal);

    /// <param name="credentials">Where passwords come from.</param>
    /// <param name="options">Validated here.</param>
    /// <param name="handler">The HTTP handler; default a <see cref="SocketsHttpHandler"/> honouring <see cref="RedfishOptions.VerifyTls"/>.</param>
    public RedfishPowerDriver(ICredentialProvider credentials, RedfishOptions? options = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        _credentials = credentials;
        _options = options ?? new RedfishOptions();
        _options.Validate();
        handler ??= new SocketsHttpHandler
        {
            SslOptions = _options.VerifyTls ? new() : new() { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public string Name => _options.Name;

    /// <summary>Sessions created so far (for tests of reuse).</summary>
    public int SessionsCreated { get; private set; }

    public async ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var call = new Call(this, target, BaseUri(target));
        try
        {
            var system = await call.SystemAsync(cancellationToken).ConfigureAwait(false);
            var resource = await call.GetAsync(system, cancellationToken).ConfigureAwait(false);
            var state = ReadPowerState(resource, system);
            if (action == PowerAction.Status)
            {
                return state;
            }

            var resetType = ResetTypeFor(action, state);
            var (resetUri, allowed) = ReadResetAction(resource, system);
            if (allowed is not null && !allowed.Contains(resetType, StringComparer.Ordinal))
            {
                // Cycle falls back to a hard restart where the system has no PowerCycle.
                resetType = resetType == "PowerCycle" && allowed.Contains("ForceRestart", StringComparer.Ordinal)
                    ? "ForceRestart"
                    : throw new PowerException(PowerErrorKind.Refused, $"{target.Name}: {system} does not allow ResetType {resetType} (allowed: {string.Join(", ", allowed)}).");
            }

            await call.PostAsync(resetUri, new JsonObject { ["ResetType"] = resetType }, cancellationToken).ConfigureAwait(false);
            return action switch
            {
                PowerAction.Off => PowerStatus.Off,
                PowerAction.SoftOff => state,
                _ => PowerStatus.On,
            };
        }
        catch (PowerException e)
        {
            throw new PowerException(e.Kind, $"{target.Name}: {e.Message}", e);
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException)
        {
            throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: the TLS certificate of Redfish service {call.Base} is not trusted ({e.InnerException.Message}); BMCs with self-signed certificates need RedfishOptions.VerifyTls = false.", e);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException or IOException)
        {
            throw new PowerException(PowerErrorKind.Unreachable, $"{target.Name}: Redfish service {call.Base} is unreachable ({e.Message}).", e);
        }
        catch (HttpRequestException e)
        {
            throw new PowerException(PowerErrorKind.Protocol, $"{target.Name}: Redfish service {call.Base}: {e.Message}", e);
        }
    }

    public void Dispose() => _http.Dispose();

    private static string ResetTypeFor(PowerAction action, PowerStatus state) => action switch
    {
        PowerAction.On => "On",
        PowerAction.Off => "ForceOff",
        PowerAction.SoftOff => "GracefulShutdown",
        _ when state != PowerStatus.On => "On",
        PowerAction.Cycle => "PowerCycle",
        _ => "ForceRestart",
    };

    private static PowerStatus ReadPowerState(JsonObject system, string uri) => system["PowerState"]?.GetValueKind() == JsonValueKind.String
        ? system["PowerState"]!.GetValue<string>() switch
        {
            "On" or "PoweringOff" or "Paused" => PowerStatus.On,
            "Off" or "PoweringOn" => PowerStatus.Off,
            var other => throw Protocol(uri, $"PowerState '{other}' is not a Redfish power state"),
        }
        : throw Protocol(uri, "the system has no PowerState string");

    private static (string Target, string[]? Allowed) ReadResetAction(JsonObject system, string uri)
    {
        if (Member(system["Actions"], "#ComputerSystem.Reset") is not JsonObject reset || reset["target"]?.GetValueKind() != JsonValueKind.String)
        {
            throw Protocol(uri, "the system has no Actions/#ComputerSystem.Reset target");
        }

        var allowed = reset["ResetType@Redfish.AllowableValues"] is JsonArray values
            ? values.Where(v => v?.GetValueKind() == JsonValueKind.String).Select(v => v!.GetValue<string>()).ToArray()
            : null;
        return (reset["target"]!.GetValue<string>(), allowed);
    }

    private Uri BaseUri(PowerTarget target)
    {
        if (string.IsNullOrEmpty(target.Address))
        {
            throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: no Redfish address in /Extensions/Power/Address.");
        }

        var text = target.Address.Contains("://", StringComparison.Ordinal) ? target.Address : $"{_options.DefaultScheme}://{target.Address}";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: '{target.Address}' is not a Redfish base URL or host.");
        }

        return target.Port == 0 ? new Uri(uri.GetLeftPart(UriPartial.Authority)) : new UriBuilder(uri.Scheme, uri.Host, target.Port).Uri;
    }

    /// <summary>
    /// A member of <paramref name="node"/> when it is an object, else null. JsonNode's indexers throw
    /// InvalidOperationException on a node of another kind, which a BMC's reply decides.
    /// </summary>
    private static JsonNode? Member(JsonNode? node, string name) => node is JsonObject o ? o[name] : null;

    private static PowerException Protocol(string uri, string what) => new(PowerErrorKind.Protocol, $"unexpected Redfish reply from {uri}: {what}.");

    /// <summary>One driver call: the target, its service and its credentials.</summary>
    private sealed class Call(RedfishPowerDriver driver, PowerTarget target, Uri baseUri)
    {
        public Uri Base { get; } = baseUri;

        private string SessionKey => $"{Base}|{target.User}|{target.Credential}";

        public async Task<string> SystemAsync(CancellationToken ct)
        {
            var key = $"{Base}|{target.System}";
            if (driver._systems.TryGetValue(key, out var cached))
            {
                return cached;
            }

            var root = await GetAsync("/redfish/v1/", ct).ConfigureAwait(false);
            var systemsUri = Member(root["Systems"], "@odata.id") is { } link && link.GetValueKind() == JsonValueKind.String
                ? link.GetValue<string>()
                : throw Protocol("/redfish/v1/", "the service root has no Systems link");
            var collection = await GetAsync(systemsUri, ct).ConfigureAwait(false);
            if (collection["Members"] is not JsonArray members)
            {
                throw Protocol(systemsUri, "the Systems collection has no Members array");
            }

            var uris = members.Select(m => Member(m, "@odata.id") is { } id && id.GetValueKind() == JsonValueKind.String ? id.GetValue<string>() : null)
                .OfType<string>().ToArray();
            string system;
            if (!string.IsNullOrEmpty(target.System))
            {
                system = uris.FirstOrDefault(u => u.TrimEnd('/').EndsWith("/" + target.System, StringComparison.Ordinal))
                    ?? throw new PowerException(PowerErrorKind.Configuration, $"Redfish service {Base} has no system '{target.System}' (it has: {string.Join(", ", uris)}).");
            }
            else
            {
                system = uris.Length == 1
                    ? uris[0]
                    : throw new PowerException(PowerErrorKind.Configuration, $"Redfish service {Base} has {uris.Length} systems; name one in /Extensions/Power/System ({string.Join(", ", uris)}).");
            }

            driver._systems[key] = system;
            return system;
        }

        /// <summary>
        /// A link from a reply, resolved against the service: only a path on the same service, so that a reply
        /// can neither send our credentials to another host nor hand Uri an unparsable "//..." authority.
        /// </summary>
        private Uri Resolve(string path) =>
            Uri.TryCreate(Base, path, out var uri) && uri.Scheme == Base.Scheme && uri.Authority == Base.Authority
                ? uri
                : throw Protocol(path, "the link is not a path on this service");

        public Task<JsonObject> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, ct);

        public Task<JsonObject> PostAsync(string path, JsonObject body, CancellationToken ct) => SendAsync(HttpMethod.Post, path, body, ct);

        private async Task<JsonObject> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct)
        {
            for (var attempt = 0; ; attempt++)
            {
                using var request = new HttpRequestMessage(method, Resolve(path));
                if (body is not null)
                {
                    request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
                }

                await AuthenticateAsync(request, ct).ConfigureAwait(false);
                using var response = await driver._http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.Unauthorized && driver._options.Auth == RedfishAuth.Session && attempt == 0)
                {
                    // The session expired or the service restarted: log in again once.
                    driver._tokens.TryRemove(SessionKey, out _);
                    continue;
                }

                var text = await ReadLimitedAsync(response, path, ct).ConfigureAwait(false);
                Check(response, path, text);
                return text.Length == 0 ? [] : Parse(text, path);
            }
        }

        private async Task AuthenticateAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (request.RequestUri!.AbsolutePath.TrimEnd('/') == "/redfish/v1" || string.IsNullOrEmpty(target.User))
            {
                return;
            }

            var password = driver._credentials.GetPassword(target);
            if (driver._options.Auth == RedfishAuth.Basic)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{target.User}:{password}")));
                return;
            }

            if (!driver._tokens.TryGetValue(SessionKey, out var token))
            {
                token = await LoginAsync(password, ct).ConfigureAwait(false);
                driver._tokens[SessionKey] = token;
            }

            request.Headers.Add("X-Auth-Token", token);
        }

        private async Task<string> LoginAsync(string password, CancellationToken ct)
        {
            const string sessions = "/redfish/v1/SessionService/Sessions";
            using var request = new HttpRequestMessage(HttpMethod.Post, Resolve(sessions))
            {
                Content = new StringContent(new JsonObject { ["UserName"] = target.User, ["Password"] = password }.ToJsonString(), Encoding.UTF8, "application/json"),
            };
            using var response = await driver._http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            var text = await ReadLimitedAsync(response, sessions, ct).ConfigureAwait(false);
            Check(response, sessions, text);
            driver.SessionsCreated++;
            return response.Headers.TryGetValues("X-Auth-Token", out var values) && values.FirstOrDefault() is { Length: > 0 } token
                ? token
                : throw Protocol(sessions, "the session was created without an X-Auth-Token header");
        }

        private async Task<string> ReadLimitedAsync(HttpResponseMessage response, string path, CancellationToken ct)
        {
            var limit = driver._options.MaxResponseBytes;
            if (response.Content.Headers.ContentLength > limit)
            {
                throw Protocol(path, $"a reply of {response.Content.Headers.ContentLength} bytes exceeds the {limit}-byte limit");
            }

            var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new MemoryStream();
                var chunk = new byte[16 * 1024];
                int n;
                while ((n = await stream.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + n > limit)
                    {
                        throw Protocol(path, $"the reply exceeds the {limit}-byte limit");
                    }

                    buffer.Write(chunk, 0, n);
                }

                return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            }
        }

        private void Check(HttpResponseMessage response, string path, string text)
        {
            if (response.IsSuccessStatusCode)
            {
                return;
            }

            var detail = ErrorMessage(text);
            var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
            throw response.StatusCode switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                    new PowerException(PowerErrorKind.Authentication, $"Redfish service {Base} refused user '{target.User}' at {path} ({status}){detail}."),
                HttpStatusCode.NotFound => new PowerException(PowerErrorKind.Configuration, $"Redfish service {Base} has no {path} ({status}){detail}."),
                _ => new PowerException(PowerErrorKind.Refused, $"Redfish service {Base} refused {path} ({status}){detail}."),
            };
        }

        /// <summary>
        /// Duplicate property names refused while parsing: JsonNode accepts them at parse and throws
        /// ArgumentException when the object is first read (found by the redfish fuzz target).
        /// </summary>
        private static readonly JsonDocumentOptions s_strict = new() { AllowDuplicateProperties = false };

        private static string ErrorMessage(string text)
        {
            try
            {
                var error = Member(JsonNode.Parse(text, documentOptions: s_strict), "error");
                var message = Member(Member(error, "@Message.ExtendedInfo") is JsonArray { Count: > 0 } info ? info[0] : null, "Message") ?? Member(error, "message");
                return message?.GetValueKind() == JsonValueKind.String ? ": " + message.GetValue<string>() : string.Empty;
            }
            catch (JsonException)
            {
                return string.Empty;
            }
        }

        private static JsonObject Parse(string text, string path)
        {
            try
            {
                return JsonNode.Parse(text, documentOptions: s_strict) as JsonObject ?? throw Protocol(path, "the reply is not a JSON object");
            }
            catch (JsonException e)
            {
                throw Protocol(path, $"the reply is not valid JSON ({e.Message})");
            }
        }
    }
}
