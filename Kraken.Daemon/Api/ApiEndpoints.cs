// The REST API's route table: /api/v1 (this daemon's API), the original's compatibility paths, /metrics.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kraken.Daemon.Api;

/// <summary>
/// Maps every endpoint. Reads of what the daemon holds are open; writes, and reads that call hardware (a live power
/// status asks every BMC selected), pass <see cref="ApiSupport.RequireToken"/>.
/// </summary>
public static partial class ApiEndpoints
{
    public const string Prefix = "/api/v1";

    public static WebApplication MapKrakenApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var v1 = app.MapGroup(Prefix).AddEndpointFilter(ApiSupport.MapErrors).WithTags("v1");
        var writes = v1.MapGroup(string.Empty).AddEndpointFilter(ApiSupport.RequireToken).WithMetadata(RequiresTokenMetadata.Instance)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        MapNodes(v1, writes);
        MapEngine(v1, writes);
        MapPower(v1, writes);
        Events.EventEndpoints.Map(v1);
        MapCompat(app);
        app.MapGet("/healthz", () => Results.Text("ok\n")).WithTags("ops").WithName("Health").WithSummary("Liveness: the daemon answers.")
            .Produces<string>(StatusCodes.Status200OK, "text/plain");
        ApiReference.Map(app);
        return app;
    }

    private static RouteHandlerBuilder Doc(this RouteHandlerBuilder builder, string name, string summary) =>
        builder.WithName(name).WithSummary(summary);
}
