// Delay distributions for simulated hardware: fixed, uniform, normal (truncated at zero) and exponential.
using System.Globalization;

namespace Kraken.Sim.Cluster;

/// <summary>
/// A delay distribution, written <c>5s</c>, <c>uniform:2s..8s</c>, <c>normal:30s,5s</c> or <c>exp:10s</c>
/// (durations take <c>ms</c>, <c>s</c>, <c>m</c> or <c>h</c>). Samples come from the simulation's one seeded generator.
/// </summary>
internal sealed record Distribution(string Kind, TimeSpan A, TimeSpan B)
{
    public static Distribution Fixed(TimeSpan value) => new("fixed", value, value);

    public static Distribution Uniform(TimeSpan min, TimeSpan max) => new("uniform", min, max);

    public static Distribution Normal(TimeSpan mean, TimeSpan sd) => new("normal", mean, sd);

    public TimeSpan Sample(Random random)
    {
        double ticks = Kind switch
        {
            "uniform" => A.Ticks + (random.NextDouble() * (B.Ticks - A.Ticks)),
            "normal" => A.Ticks + (B.Ticks * Gaussian(random)),
            "exp" => -A.Ticks * Math.Log(1 - random.NextDouble()),
            _ => A.Ticks,
        };
        return TimeSpan.FromTicks((long)Math.Max(0, ticks));
    }

    /// <summary>The mean of the distribution (of the untruncated normal).</summary>
    public TimeSpan Mean => Kind == "uniform" ? (A + B) / 2 : A;

    private static double Gaussian(Random random)
    {
        // Box-Muller; one value per call keeps the draw count per sample fixed.
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public override string ToString() => Kind switch
    {
        "uniform" => $"uniform:{Durations.Format(A)}..{Durations.Format(B)}",
        "normal" => $"normal:{Durations.Format(A)},{Durations.Format(B)}",
        "exp" => $"exp:{Durations.Format(A)}",
        _ => Durations.Format(A),
    };

    public static Distribution Parse(string text, string option)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? "fixed" : text[..colon];
        var body = colon < 0 ? text : text[(colon + 1)..];
        try
        {
            switch (kind)
            {
                case "fixed":
                    return Fixed(Durations.Parse(body, option));
                case "uniform":
                    {
                        var parts = body.Split("..");
                        if (parts.Length != 2)
                        {
                            break;
                        }

                        var (min, max) = (Durations.Parse(parts[0], option), Durations.Parse(parts[1], option));
                        if (max < min)
                        {
                            throw new ArgumentException($"{option}: the uniform range {text} ends before it starts.");
                        }

                        return Uniform(min, max);
                    }

                case "normal":
                    {
                        var parts = body.Split(',');
                        if (parts.Length != 2)
                        {
                            break;
                        }

                        return Normal(Durations.Parse(parts[0], option), Durations.Parse(parts[1], option));
                    }

                case "exp":
                    return new Distribution("exp", Durations.Parse(body, option), TimeSpan.Zero);
            }
        }
        catch (FormatException)
        {
        }

        throw new ArgumentException($"{option}: '{text}' is not a distribution; write 5s, uniform:2s..8s, normal:30s,5s or exp:10s.");
    }
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
