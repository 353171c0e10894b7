// The dead interval on a lossy link: stretched by the measured loss, so that runs of lost hellos do not kill live
// adjacencies, while a node that really stops is still found dead within the stretched interval.
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class LossyLinkTests
{
    private static readonly TimeSpan s_hello = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_dead = TimeSpan.FromSeconds(4);

    private static (int Errors, SyncCluster Cluster) RunLossy(TimeSpan? maxDead, TimeSpan duration)
    {
        var c = new SyncCluster(seed: 11);
        c.Network.Conditions = new NetworkConditions { Latency = TimeSpan.FromMilliseconds(2), Loss = 0.30 };
        c.StartThreeTier(configure: o => o with { HelloInterval = s_hello, DeadInterval = s_dead, MaxDeadInterval = maxDead });
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(10), "every adjacency Full despite 30 % loss");
        var before = Errors(c);
        c.Run(duration);
        Assert.True(c.Network.Lost > 1000, "the network lost little: the test did not test loss");
        return (Errors(c) - before, c);
    }

    private static int Errors(SyncCluster c) => c.RootRunStates.Changes.Count(x => x.To == StateValue.FromEnum(RunState.Error));

    [Fact]
    public async Task At_thirty_percent_loss_a_fixed_dead_interval_of_four_hellos_kills_live_adjacencies_and_a_stretched_one_does_not()
    {
        // Fixed: four lost hellos in a row (0.3^4, about 1 % per interval) happen hundreds of times an hour on 12 adjacencies.
        var (fixedErrors, fixedCluster) = RunLossy(s_dead, TimeSpan.FromHours(1));
        await fixedCluster.DisposeAsync();
        Assert.True(fixedErrors > 50, $"{fixedErrors} false deaths with a fixed dead interval: the loss did not bite");

        // Stretched (up to 4x, the default): 30 % measured loss asks for 14 hellos, capped at 16 s; none in an hour.
        var (stretchedErrors, c) = RunLossy(null, TimeSpan.FromHours(1));
        await using (c)
        {
            Assert.Equal(0, stretchedErrors);
            var leaf = c[c.Leaves[0]];
            var interval = c[c.Tier1[0]].Engine.DeadIntervalOf(c.Leaves[0]);
            Assert.InRange(interval, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(16));

            // A leaf that really stops is still found dead, within the stretched interval and a hello.
            c.Crash(leaf.Id);
            var took = c.RunUntil(() => c[c.Root].Dsc(leaf.Id, StateSchema.Default.RunState) == StateValue.FromEnum(RunState.Error), TimeSpan.FromMinutes(2), "the crashed leaf seen ERROR at the root");
            Assert.True(took <= TimeSpan.FromSeconds(16) + s_hello + TimeSpan.FromSeconds(1), $"took {took}");
        }
    }

    [Fact]
    public async Task A_clean_link_keeps_the_configured_dead_interval()
    {
        await using var c = new SyncCluster(seed: 3);
        c.StartThreeTier(configure: o => o with { HelloInterval = s_hello, DeadInterval = s_dead });
        c.RunUntil(c.AllFull, TimeSpan.FromMinutes(2), "every adjacency Full");
        c.Run(TimeSpan.FromMinutes(5));
        Assert.Equal(s_dead, c[c.Tier1[0]].Engine.DeadIntervalOf(c.Leaves[0]));
        Assert.Equal(s_dead, c[c.Leaves[0]].Engine.DeadIntervalOf(c.Tier1[0]));

        c.Crash(c.Leaves[0]);
        var took = c.RunUntil(() => c[c.Root].Dsc(c.Leaves[0], StateSchema.Default.RunState) == StateValue.FromEnum(RunState.Error), TimeSpan.FromMinutes(1), "the crashed leaf seen ERROR at the root");
        Assert.True(took <= s_dead + s_hello + TimeSpan.FromSeconds(1), $"took {took}");
    }

    [Fact]
    public void The_loss_estimate_follows_gaps_and_takes_late_frames_back()
    {
        var loss = new LossEstimate();
        ulong highest = 0;
        void Frame(ulong seq)
        {
            loss.OnFrame(seq, highest);
            highest = Math.Max(highest, seq);
        }

        // Every frame arrives: no loss.
        for (ulong s = 1; s <= 200; s++)
        {
            Frame(s);
        }

        Assert.Equal(0, loss.Rate, 3);

        // Every other frame lost: the estimate settles near a half.
        for (ulong s = 202; s <= 1000; s += 2)
        {
            Frame(s);
        }

        Assert.InRange(loss.Rate, 0.45, 0.55);

        // Frames that arrive late (reordered) were not lost after all.
        var before = loss.Rate;
        Frame(999);
        Frame(997);
        Assert.True(loss.Rate < before);

        // A jump of millions (a peer's restart) counts as a bounded burst, which clean frames soon wash out.
        Frame(5_000_000);
        for (ulong s = 5_000_001; s <= 5_000_300; s++)
        {
            Frame(s);
        }

        Assert.True(loss.Rate < 0.01, $"{loss.Rate}");
    }
}
