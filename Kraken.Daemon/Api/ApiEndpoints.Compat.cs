// The original Kraken's REST paths (KRAKEN-REFERENCE 6.9), for krakenctl and kraken-dashboard.
using Microsoft.AspNetCore.Builder;

namespace Kraken.Daemon.Api;

public static partial class ApiEndpoints
{
    private static void MapCompat(WebApplication app)
    {
        _ = app;
    }
}
