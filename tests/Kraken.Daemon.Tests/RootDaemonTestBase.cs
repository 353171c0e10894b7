// Base of the test classes that run against one in-process root daemon on a loopback port.
using System.Text;

namespace Kraken.Daemon.Tests;

public abstract class RootDaemonTestBase : IAsyncLifetime
{
    internal TestDaemon D { get; private set; } = null!;

    /// <summary>
    /// Starts the root frozen: the example's goal (RunState SYNC) would otherwise have it power its children at once,
    /// and these tests want the engine to act only when they thaw it.
    /// </summary>
    public async Task InitializeAsync() => D = await TestDaemon.StartRootAsync(extra: "--Reconcile:StartFrozen=true");

    public async Task DisposeAsync() => await D.DisposeAsync();

    protected static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
