// Sync:Parents by host name: a child resolves localhost to its root at join; a name that does not resolve is a
// failed, counted join attempt, and the child goes on to its next parent.
using System.Net;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Tests.Api;
using Kraken.Net.Transport;
using Kraken.Tree.Sync;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests.Hosting;

[Trait("Category", "Network")]
public sealed class ParentHostNameTests
{
    [Fact]
    public async Task A_child_joins_a_parent_named_localhost_after_a_name_that_does_not_resolve()
    {
        await using var root = await TestDaemon.StartRootAsync();
        var rootPort = ((IPEndPoint)root.Daemon.SyncEndPoint!).Port;
        var child = DaemonHost.Build(null,
        [
            $"--NodeId={TestDaemon.T1a}",
            "--Api:Url=http://127.0.0.1:0",
            "--Sync:Bind=127.0.0.1:0",
            "--Sync:Parents:0=no-such-parent.invalid:31415",
            $"--Sync:Parents:1=localhost:{rootPort}",
            $"--Sync:JoinSecret={TestDaemon.Secret}",
            "--Sync:HelloInterval=00:00:00.200",
            "--Sync:DeadInterval=00:00:02",
            "--Sync:JoinBackoff=00:00:00.100",
            "--Sync:JoinTimeout=00:00:02",
        ]);
        try
        {
            var options = child.Services.GetRequiredService<DaemonOptions>();
            Assert.Equal(new EndPoint[] { new HostEndPoint("no-such-parent.invalid", 31415), new HostEndPoint("localhost", rootPort) }, options.Parents);
            await child.StartAsync();
            var daemon = child.Services.GetRequiredService<KrakenDaemon>();
            await ApiTests.Until(() => daemon.Sync.Adjacencies.Any(a => a.Role == AdjacencyRole.Parent && a.State == AdjacencyState.Full), "the child is Full with its root", 30);

            // Reached at the address the name resolved to; the name that did not resolve was a failed join, counted.
            var parent = daemon.Sync.Adjacencies.Single(a => a.Role == AdjacencyRole.Parent);
            Assert.Equal(new IPEndPoint(IPAddress.Loopback, rootPort), parent.EndPoint);
            Assert.Equal(1, parent.ParentIndex);
            Assert.True(daemon.Sync.Counters.JoinFailures >= 1, $"{daemon.Sync.Counters.JoinFailures} failed joins");
            await ApiTests.Until(() => root.Daemon.Sync.Adjacencies.Any(a => a.Role == AdjacencyRole.Child && a.State == AdjacencyState.Full), "the root has its child", 30);
        }
        finally
        {
            await child.StopAsync();
            await child.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("parent-1.cluster:31415", true)]
    [InlineData("198.18.0.1:31415", false)]
    public void Parents_take_addresses_and_host_names(string parent, bool hostName)
    {
        var options = ChildWithParent(parent);
        Assert.Equal(parent, Assert.Single(options.Parents).ToString());
        Assert.Equal(hostName, options.Parents[0] is HostEndPoint);
    }

    [Theory]
    [InlineData("parent-1.cluster")]
    [InlineData("bad name:31415")]
    [InlineData("parent:http")]
    public void A_parent_without_a_port_or_with_a_bad_name_names_its_key(string parent)
    {
        var e = Assert.Throws<DaemonConfigException>(() => ChildWithParent(parent));
        Assert.Equal("Sync:Parents:0", e.Key);
    }

    private static DaemonOptions ChildWithParent(string parent) =>
        DaemonOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NodeId"] = TestDaemon.T1a,
            ["Sync:JoinSecret"] = TestDaemon.Secret,
            ["Sync:Parents:0"] = parent,
        }).Build());
}
