using Kraken.Sim.Cluster;
using Kraken.Sim.Scenarios;

namespace Kraken.Sim.Tests;

public class DeterminismTests
{
    private static (long[] FirstSync, long Messages, long Bytes, TimeSpan Simulated, string Figures, string Dhcp) Run(int seed, ScenarioKind kind = ScenarioKind.Coldboot)
    {
        var settings = new SimSettings { Nodes = 150, Fanout = [10], Seed = seed, Loss = 0.02, Jitter = TimeSpan.FromMilliseconds(2), PowerFailure = 0.05 };
        var runner = new ScenarioRunner(settings, new ScenarioOptions { Kind = kind });
        var r = runner.Run();
        Assert.True(r.Converged, string.Join("; ", r.Figures.Select(f => $"{f.Name} = {f.Value}")));
        return ((long[])runner.Cluster!.Root.FirstSync.Clone(), r.Messages, r.Bytes, r.Simulated, string.Join(";", r.Figures.Select(f => $"{f.Name}={f.Value}")),
            r.Dhcp is { } d ? $"{string.Join(",", d.ClientFrames)}/{string.Join(",", d.ServerFrames)}/{d.Retransmissions}/{d.Lost}/{d.Leases}/{d.Received}/{d.Dropped}" : "-");
    }

    [Fact]
    public void The_same_seed_gives_the_same_run()
    {
        var a = Run(11);
        var b = Run(11);
        Assert.Equal(a.FirstSync, b.FirstSync);
        Assert.Equal(a.Messages, b.Messages);
        Assert.Equal(a.Bytes, b.Bytes);
        Assert.Equal(a.Simulated, b.Simulated);
        Assert.NotEqual("-", a.Dhcp);
        Assert.Equal(a.Dhcp, b.Dhcp);
    }

    [Fact]
    public void The_same_seed_gives_the_same_fault_scenario()
    {
        var a = Run(5, ScenarioKind.KillParent);
        var b = Run(5, ScenarioKind.KillParent);
        Assert.Equal(a.Figures, b.Figures);
        Assert.Equal(a.Bytes, b.Bytes);
    }

    [Fact]
    public void Another_seed_gives_another_run()
    {
        var a = Run(11);
        var c = Run(12);
        Assert.NotEqual(a.FirstSync, c.FirstSync);
    }
}
