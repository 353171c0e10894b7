// Durations and delay distributions as the command line writes them.
using System.Globalization;
using Kraken.Modules.Power;

namespace Kraken.Sim.Cluster;

/// <summary>
/// Delay distributions (<see cref="SimDelay"/>, shared with the power module's simulated driver) written
/// <c>5s</c>, <c>uniform:2s..8s</c> or <c>normal:30s,5s</c> (a normal never goes below zero).
/// </summary>
internal static class DelayText
{
    public static SimDelay Parse(string text, string option)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? "fixed" : text[..colon];
        var body = colon < 0 ? text : text[(colon + 1)..];
        switch (kind)
        {
            case "fixed":
                return SimDelay.Fixed(Durations.Parse(body, option));
            case "uniform" when body.Split("..") is [var min, var max]:
                {
                    var (a, b) = (Durations.Parse(min, option), Durations.Parse(max, option));
                    return b < a ? throw new ArgumentException($"{option}: the uniform range {text} ends before it starts.") : SimDelay.Uniform(a, b);
                }

            case "normal" when body.Split(',') is [var mean, var sd]:
                return SimDelay.Normal(Durations.Parse(mean, option), Durations.Parse(sd, option));
            default:
                throw new ArgumentException($"{option}: '{text}' is not a delay; write 5s, uniform:2s..8s or normal:30s,5s.");
        }
    }

    public static string Format(SimDelay d) => d.Shape switch
    {
        SimDelayShape.Uniform => $"uniform:{Durations.Format(d.A)}..{Durations.Format(d.B)}",
        SimDelayShape.Normal => $"normal:{Durations.Format(d.A)},{Durations.Format(d.B)}",
        _ => Durations.Format(d.A),
    };
}

/// <summary>Durations as the command line writes them: <c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>.</summary>
internal static class Durations
{
    public static TimeSpan Parse(string text, string option)
    {
        var t = text.Trim();
        (string Suffix, double Ticks)[] units = [("ms", TimeSpan.TicksPerMillisecond), ("s", TimeSpan.TicksPerSecond), ("m", TimeSpan.TicksPerMinute), ("h", TimeSpan.TicksPerHour)];
        foreach (var (suffix, ticks) in units)
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                && v >= 0 && v < 1e9)
            {
                return TimeSpan.FromTicks((long)(v * ticks));
            }
        }

        throw new ArgumentException($"{option}: '{text}' is not a duration; write e.g. 250ms, 5s, 2m or 1h.");
    }

    public static string Format(TimeSpan t) => t.Ticks switch
    {
        0 => "0s",
        _ when t.Ticks % TimeSpan.TicksPerHour == 0 => (t.Ticks / TimeSpan.TicksPerHour).ToString(CultureInfo.InvariantCulture) + "h",
        _ when t.Ticks % TimeSpan.TicksPerMinute == 0 => (t.Ticks / TimeSpan.TicksPerMinute).ToString(CultureInfo.InvariantCulture) + "m",
        _ when t.Ticks % TimeSpan.TicksPerSecond == 0 => (t.Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture) + "s",
        _ => t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms",
    };
}
