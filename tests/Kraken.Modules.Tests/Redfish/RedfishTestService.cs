// A small Redfish service on loopback (ASP.NET Core): service root, sessions, Systems and ComputerSystem.Reset.
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kraken.Modules.Tests.Redfish;

/// <summary>How the service misbehaves, for the driver's error tests.</summary>
public enum RedfishFault
{
    None,
    Garbage,
    Truncated,
    Oversized,
    NoPowerState,
}

/// <summary>
/// Enough of DSP0266 for power control and for redfishtool: <c>/redfish</c>, the service root, the session
/// service (X-Auth-Token), Basic auth, a Systems collection whose members have <c>PowerState</c> and a
/// <c>#ComputerSystem.Reset</c> action; resets are recorded in order.
/// </summary>
internal sealed class RedfishTestService : IAsyncDisposable
{
    public const string User = "root";
    public const string Password = "redfish-secret";

    private static readonly string[] s_resetTypes = ["On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle"];

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _sessions = new(StringComparer.Ordinal);
    private int _nextSession;

    public RedfishTestService(params string[] systems)
        : this(null, systems)
    {
    }

    /// <param name="certificate">When given, the service listens with HTTPS and this certificate.</param>
    /// <param name="systems">The system ids; default one system "1".</param>
    public RedfishTestService(X509Certificate2? certificate, params string[] systems)
    {
        foreach (var s in systems.Length == 0 ? ["1"] : systems)
        {
            PowerStates[s] = "Off";
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (certificate is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        }

        _app = builder.Build();
        Map();
        _app.StartAsync().GetAwaiter().GetResult();
        BaseUrl = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(BaseUrl).Port;
    }

    public string BaseUrl { get; }

    public int Port { get; }

    public ConcurrentDictionary<string, string> PowerStates { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<string> Resets { get; } = [];

    public RedfishFault Fault { get; set; }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private void Map()
    {
        _app.MapGet("/redfish", () => Json(new JsonObject { ["v1"] = "/redfish/v1/" }));
        _app.MapGet("/redfish/v1/", Root);
        _app.MapGet("/redfish/v1/odata", () => Json(new JsonObject { ["value"] = new JsonArray() }));
        _app.MapGet("/redfish/v1/$metadata", () => Results.Text("<edmx:Edmx Version=\"4.0\"/>", "application/xml"));
        _app.MapPost("/redfish/v1/SessionService/Sessions", async (HttpContext context) =>
        {
            var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync());
            if (body?["UserName"]?.ToString() != User || body?["Password"]?.ToString() != Password)
            {
                return Error(401, "Base.1.8.NoValidSession", "Invalid user name or password.");
            }

            var id = Interlocked.Increment(ref _nextSession).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var token = Guid.NewGuid().ToString("N");
            _sessions[token] = id;
            context.Response.Headers["X-Auth-Token"] = token;
            context.Response.Headers.Location = $"/redfish/v1/SessionService/Sessions/{id}";
            return Results.Json(Session(id), statusCode: 201);
        });
        _app.MapGet("/redfish/v1/SessionService", (HttpContext c) => Authorized(c) ?? Json(new JsonObject
        {
            ["@odata.id"] = "/redfish/v1/SessionService",
            ["Id"] = "SessionService",
            ["ServiceEnabled"] = true,
            ["Sessions"] = Link("/redfish/v1/SessionService/Sessions"),
        }));
        _app.MapGet("/redfish/v1/SessionService/Sessions", (HttpContext c) => Authorized(c) ?? Json(Collection("/redfish/v1/SessionService/Sessions", _sessions.Values.Select(id => $"/redfish/v1/SessionService/Sessions/{id}"))));
        _app.MapDelete("/redfish/v1/SessionService/Sessions/{id}", (HttpContext c, string id) =>
        {
            if (Authorized(c) is { } denied)
            {
                return denied;
            }

            foreach (var (token, sid) in _sessions)
            {
                if (sid == id)
                {
                    _sessions.TryRemove(token, out _);
                }
            }

            return Results.NoContent();
        });
        _app.MapGet("/redfish/v1/Systems", (HttpContext c) => Authorized(c) ?? Json(Collection("/redfish/v1/Systems", PowerStates.Keys.Order(StringComparer.Ordinal).Select(s => $"/redfish/v1/Systems/{s}"))));
        _app.MapGet("/redfish/v1/Systems/{id}", (HttpContext c, string id) => Authorized(c) ?? (PowerStates.ContainsKey(id) ? SystemReply(id) : Error(404, "Base.1.8.ResourceMissingAtURI", $"No system {id}.")));
        _app.MapPost("/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset", async (HttpContext c, string id) =>
        {
            if (Authorized(c) is { } denied)
            {
                return denied;
            }

            if (!PowerStates.ContainsKey(id))
            {
                return Error(404, "Base.1.8.ResourceMissingAtURI", $"No system {id}.");
            }

            var resetType = JsonNode.Parse(await new StreamReader(c.Request.Body).ReadToEndAsync())?["ResetType"]?.ToString();
            if (resetType is null || !s_resetTypes.Contains(resetType))
            {
                return Error(400, "Base.1.8.ActionParameterValueNotInList", $"ResetType '{resetType}' is not allowed.");
            }

            Resets.Enqueue($"{id}:{resetType}");
            PowerStates[id] = resetType switch
            {
                "ForceOff" or "GracefulShutdown" => "Off",
                _ => "On",
            };
            return Results.NoContent();
        });
    }

    private IResult Root() => Json(new JsonObject
    {
        ["@odata.type"] = "#ServiceRoot.v1_5_0.ServiceRoot",
        ["@odata.id"] = "/redfish/v1/",
        ["Id"] = "RootService",
        ["Name"] = "Kraken test Redfish service",
        ["RedfishVersion"] = "1.8.0",
        ["Systems"] = Link("/redfish/v1/Systems"),
        ["SessionService"] = Link("/redfish/v1/SessionService"),
        ["Links"] = new JsonObject { ["Sessions"] = Link("/redfish/v1/SessionService/Sessions") },
    });

    private IResult SystemReply(string id)
    {
        var system = new JsonObject
        {
            ["@odata.type"] = "#ComputerSystem.v1_10_0.ComputerSystem",
            ["@odata.id"] = $"/redfish/v1/Systems/{id}",
            ["Id"] = id,
            ["Name"] = $"System {id}",
            ["PowerState"] = PowerStates[id],
            ["Actions"] = new JsonObject
            {
                ["#ComputerSystem.Reset"] = new JsonObject
                {
                    ["target"] = $"/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset",
                    ["ResetType@Redfish.AllowableValues"] = new JsonArray([.. s_resetTypes.Select(t => (JsonNode)t)]),
                },
            },
        };
        switch (Fault)
        {
            case RedfishFault.Garbage:
                return Results.Text("<html>this is not JSON</html>", "application/json");
            case RedfishFault.Truncated:
                var text = system.ToJsonString();
                return Results.Text(text[..(text.Length / 2)], "application/json");
            case RedfishFault.Oversized:
                system["Padding"] = new string('x', 2 << 20);
                return Results.Text(system.ToJsonString(), "application/json", Encoding.UTF8);
            case RedfishFault.NoPowerState:
                system.Remove("PowerState");
                break;
        }

        return Json(system);
    }

    private IResult? Authorized(HttpContext context)
    {
        if (context.Request.Headers.TryGetValue("X-Auth-Token", out var token) && _sessions.ContainsKey(token.ToString()))
        {
            return null;
        }

        var auth = context.Request.Headers.Authorization.ToString();
        if (auth.StartsWith("Basic ", StringComparison.Ordinal)
            && Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..])) == $"{User}:{Password}")
        {
            return null;
        }

        return Error(401, "Base.1.8.NoValidSession", "Authentication required.");
    }

    private static JsonObject Session(string id) => new()
    {
        ["@odata.id"] = $"/redfish/v1/SessionService/Sessions/{id}",
        ["Id"] = id,
        ["UserName"] = User,
    };

    private static JsonObject Link(string uri) => new() { ["@odata.id"] = uri };

    private static JsonObject Collection(string uri, IEnumerable<string> members)
    {
        var list = members.Select(m => (JsonNode)Link(m)).ToArray();
        return new JsonObject
        {
            ["@odata.id"] = uri,
            ["Members@odata.count"] = list.Length,
            ["Members"] = new JsonArray(list),
        };
    }

    private static IResult Json(JsonObject body) => Results.Text(body.ToJsonString(), "application/json", Encoding.UTF8);

    private static IResult Error(int status, string code, string message) => Results.Text(
        new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = code,
                ["message"] = message,
                ["@Message.ExtendedInfo"] = new JsonArray(new JsonObject { ["MessageId"] = code, ["Message"] = message }),
            },
        }.ToJsonString(),
        "application/json",
        Encoding.UTF8,
        status);
}
