// Base of the test classes that run against one in-process root daemon on a loopback port.
using System.Text;

namespace Kraken.Daemon.Tests;

public abstract class RootDaemonTestBase : IAsyncLifetime
{
    internal TestDaemon D { get; private set; } = null!;

    public async Task InitializeAsync() => D = await TestDaemon.StartRootAsync();

    public async Task DisposeAsync() => await D.DisposeAsync();

    protected static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
