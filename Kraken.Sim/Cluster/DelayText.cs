// Durations and delay distributions as the command line writes them.
using Kraken.Modules.Power;
using Kraken.Net.Execution;

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
