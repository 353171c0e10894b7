// Bounded concurrency per driver and per BMC, on the module's executor: no locks, FIFO per driver.
namespace Kraken.Modules.Power.Internal;

/// <summary>One driver's queue and in-flight count.</summary>
internal sealed class DriverSlot(IPowerDriver driver, int limit)
{
    public IPowerDriver Driver { get; } = driver;

    public int Limit { get; } = limit;

    public int InFlight { get; set; }

    public int Peak { get; set; }

    /// <summary>Operations waiting for a driver slot, in submission order.</summary>
    public Queue<PowerOperation> Waiting { get; } = new();

    /// <summary>BMCs that have parked operations and may have a free slot again.</summary>
    public Queue<BmcSlot> Ready { get; } = new();

    public Dictionary<string, BmcSlot> Bmcs { get; } = new(StringComparer.Ordinal);

    /// <summary>Operations queued for this driver, parked ones included.</summary>
    public int Queued { get; set; }
}

/// <summary>One BMC's in-flight count and the operations parked behind it.</summary>
internal sealed class BmcSlot(string key)
{
    public string Key { get; } = key;

    public int InFlight { get; set; }

    public Queue<PowerOperation> Parked { get; } = new();
}

/// <summary>
/// Decides which queued operation runs next. An operation starts when its driver has fewer than its limit in
/// flight and its BMC fewer than the per-BMC limit; one whose BMC is busy is parked behind that BMC, so it
/// does not hold up operations for other BMCs, and runs before later ones once the BMC frees.
/// </summary>
internal sealed class PowerScheduler(int bmcLimit, Action<PowerOperation> start)
{
    public void Enqueue(DriverSlot driver, PowerOperation op)
    {
        driver.Waiting.Enqueue(op);
        driver.Queued++;
        Pump(driver);
    }

    /// <summary>Frees the slots <paramref name="op"/> held and starts what can run now.</summary>
    public void Release(PowerOperation op)
    {
        var driver = op.Driver!;
        var bmc = op.Bmc!;
        op.Driver = null;
        op.Bmc = null;
        driver.InFlight--;
        bmc.InFlight--;
        if (bmc.Parked.Count > 0)
        {
            driver.Ready.Enqueue(bmc);
        }
        else if (bmc.InFlight == 0)
        {
            driver.Bmcs.Remove(bmc.Key);
        }

        Pump(driver);
    }

    private void Pump(DriverSlot driver)
    {
        while (driver.InFlight < driver.Limit)
        {
            var op = NextReady(driver);
            if (op is null)
            {
                if (!driver.Waiting.TryDequeue(out op))
                {
                    return;
                }

                var key = op.Target.BmcKey;
                if (!driver.Bmcs.TryGetValue(key, out var bmc))
                {
                    bmc = new BmcSlot(key);
                    driver.Bmcs.Add(key, bmc);
                }

                if (bmc.InFlight >= bmcLimit || bmc.Parked.Count > 0)
                {
                    bmc.Parked.Enqueue(op);
                    continue;
                }

                op.Bmc = bmc;
            }

            driver.Queued--;
            driver.InFlight++;
            driver.Peak = Math.Max(driver.Peak, driver.InFlight);
            op.Bmc!.InFlight++;
            op.Driver = driver;
            start(op);
        }
    }

    private PowerOperation? NextReady(DriverSlot driver)
    {
        while (driver.Ready.TryPeek(out var bmc))
        {
            if (bmc.Parked.Count == 0 || bmc.InFlight >= bmcLimit)
            {
                driver.Ready.Dequeue();
                continue;
            }

            var op = bmc.Parked.Dequeue();
            if (bmc.Parked.Count == 0)
            {
                driver.Ready.Dequeue();
            }

            op.Bmc = bmc;
            return op;
        }

        return null;
    }
}
