// Durations as people write them (250ms, 5s, 1m30s, 2h) and as .NET writes them (00:00:05): one parser for the
// daemon's configuration, the kraken command line and the simulator's.
using System.Globalization;

namespace Kraken.Net.Execution;

/// <summary>
/// Parses and formats durations. A duration is either one or more <c>NUMBER UNIT</c> pairs with no spaces, units
/// <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c> and <c>d</c> and decimal numbers allowed (<c>250ms</c>, <c>1.5s</c>,
/// <c>1m30s</c>, <c>2h</c>), or the .NET form with colons (<c>00:00:05</c>, <c>1.02:00:00</c>, <c>00:00:00.250</c>).
/// Never negative. A bare number is not a duration here: the configuration binder has long read <c>"5"</c> as five
/// days, and a command line reads it as seconds, so each caller says what a bare number means.
/// </summary>
public static class Durations
{
    /// <summary>What a reader is told to write, for error messages.</summary>
    public const string Examples = "250ms, 5s, 1m30s, 2h or 00:00:05";

    /// <summary>True for a non-negative duration in either form.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text is null)
        {
            return false;
        }

        var t = text.AsSpan().Trim();
        if (t.Contains(':'))
        {
            return TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
        }

        return TryParseUnits(t, out value);
    }

    /// <summary>True for the <c>NUMBER UNIT</c> form only (<c>5s</c>, <c>1m30s</c>); false for the .NET form.</summary>
    public static bool TryParseUnits(ReadOnlySpan<char> text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text.IsEmpty)
        {
            return false;
        }

        decimal ticks = 0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (i == start || !decimal.TryParse(text[start..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetterLower(text[i]))
            {
                i++;
            }

            long perUnit = text[unitStart..i] switch
            {
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "d" => TimeSpan.TicksPerDay,
                _ => 0,
            };
            if (perUnit == 0)
            {
                return false;
            }

            // Decimal keeps 1.1s exact; the range is checked before the product could overflow it.
            if (number > (decimal)TimeSpan.MaxValue.Ticks / perUnit)
            {
                return false;
            }

            ticks += number * perUnit;
            if (ticks > TimeSpan.MaxValue.Ticks)
            {
                return false;
            }
        }

        value = TimeSpan.FromTicks((long)decimal.Round(ticks));
        return true;
    }

    /// <summary>Parses or throws <see cref="ArgumentException"/> naming <paramref name="name"/> (an option or key).</summary>
    public static TimeSpan Parse(string text, string name) =>
        TryParse(text, out var value)
            ? value
            : throw new ArgumentException($"{name}: '{text}' is not a duration; write e.g. {Examples}.");

    /// <summary>The shortest exact form in one unit (<c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>); milliseconds otherwise.</summary>
    public static string Format(TimeSpan t) => t.Ticks switch
    {
        0 => "0s",
        _ when t.Ticks % TimeSpan.TicksPerHour == 0 => (t.Ticks / TimeSpan.TicksPerHour).ToString(CultureInfo.InvariantCulture) + "h",
        _ when t.Ticks % TimeSpan.TicksPerMinute == 0 => (t.Ticks / TimeSpan.TicksPerMinute).ToString(CultureInfo.InvariantCulture) + "m",
        _ when t.Ticks % TimeSpan.TicksPerSecond == 0 => (t.Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture) + "s",
        _ => t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms",
    };
}
