using Kraken.Net.Execution;

namespace Kraken.Net.Tests.Execution;

public class VirtualTimeProviderTests
{
    [Fact]
    public void Time_stands_still_until_advanced_and_timers_fire_in_due_order()
    {
        var clock = new VirtualTimeProvider();
        var fired = new List<(string Name, TimeSpan At)>();
        using var late = clock.CreateTimer(_ => fired.Add(("late", clock.Elapsed)), null, TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan);
        using var early = clock.CreateTimer(_ => fired.Add(("early", clock.Elapsed)), null, TimeSpan.FromSeconds(3), Timeout.InfiniteTimeSpan);
        using var tie = clock.CreateTimer(_ => fired.Add(("tie", clock.Elapsed)), null, TimeSpan.FromSeconds(3), Timeout.InfiniteTimeSpan);

        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal([("early", TimeSpan.FromSeconds(3)), ("tie", TimeSpan.FromSeconds(3))], fired);
        Assert.Equal(TimeSpan.FromSeconds(5), clock.Elapsed);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(("late", TimeSpan.FromSeconds(10)), fired[^1]);
    }

    [Fact]
    public void Periodic_timers_repeat_and_change_and_dispose_take_effect()
    {
        var clock = new VirtualTimeProvider();
        var ticks = new List<TimeSpan>();
        var timer = clock.CreateTimer(_ => ticks.Add(clock.Elapsed), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5)], ticks);

        timer.Change(TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan);
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(3, ticks.Count);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(16), ticks[^1]);

        timer.Change(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        timer.Dispose();
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(4, ticks.Count);
        Assert.Null(clock.NextDue);
    }

    [Fact]
    public void Queued_work_runs_before_time_moves_and_in_posting_order()
    {
        var queue = new WorkQueue();
        var clock = new VirtualTimeProvider(queue);
        var a = new ManualExecutor(queue);
        var b = new ManualExecutor(queue);
        var log = new List<string>();
        a.Post(() => log.Add($"a1@{clock.Elapsed.TotalSeconds}"));
        b.Post(() =>
        {
            log.Add($"b1@{clock.Elapsed.TotalSeconds}");
            a.Post(() => log.Add($"a2@{clock.Elapsed.TotalSeconds}"));
        });
        using var timer = a.CreateTimer(clock, _ => log.Add($"timer@{clock.Elapsed.TotalSeconds}"), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(["a1@0", "b1@0", "a2@0", "timer@1"], log);
    }

    [Fact]
    public void RunUntil_jumps_between_timers_until_the_condition_holds_or_the_limit()
    {
        var clock = new VirtualTimeProvider();
        var count = 0;
        using var timer = clock.CreateTimer(_ => count++, null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        Assert.True(clock.RunUntil(() => count == 60, TimeSpan.FromHours(2)));
        Assert.Equal(TimeSpan.FromHours(1), clock.Elapsed);
        Assert.False(clock.RunUntil(() => count == 1_000, TimeSpan.FromMinutes(10)));
        Assert.Equal(70, count);
    }
}

public class SerialExecutorTests
{
    [Fact]
    public async Task Work_runs_one_at_a_time_in_posting_order_and_errors_do_not_stop_it()
    {
        var errors = new List<Exception>();
        var executor = new SerialExecutor(errors.Add);
        var order = new List<int>();
        var concurrent = 0;
        var maxConcurrent = 0;
        for (var i = 0; i < 200; i++)
        {
            var n = i;
            executor.Post(() =>
            {
                maxConcurrent = Math.Max(maxConcurrent, Interlocked.Increment(ref concurrent));
                order.Add(n);
                Interlocked.Decrement(ref concurrent);
                if (n == 50)
                {
                    throw new InvalidOperationException("boom");
                }
            });
        }

        var count = await executor.InvokeAsync(() => order.Count);
        await executor.DisposeAsync();
        Assert.Equal(200, count);
        Assert.Equal(Enumerable.Range(0, 200), order);
        Assert.Equal(1, maxConcurrent);
        Assert.Equal("boom", Assert.Single(errors).Message);
        Assert.Throws<ObjectDisposedException>(() => executor.Post(() => { }));
    }
}
