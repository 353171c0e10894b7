// The one duration syntax of the configuration, the kraken command line and the simulator.
using Kraken.Net.Execution;

namespace Kraken.Net.Tests.Execution;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("5s", 5_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData("1h0m0.5s", 3_600_500)]
    [InlineData("0s", 0)]
    [InlineData(" 10s ", 10_000)]
    [InlineData("00:00:05", 5_000)]
    [InlineData("00:00:00.250", 250)]
    [InlineData("1.02:00:00", 93_600_000)]
    public void Units_and_the_dotnet_form_are_read(string text, long milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("s")]
    [InlineData("5 s")]
    [InlineData("5sec")]
    [InlineData("5S")]
    [InlineData("-5s")]
    [InlineData("-00:00:05")]
    [InlineData("1.2.3s")]
    [InlineData(".s")]
    [InlineData("5s5")]
    [InlineData("1e3ms")]
    [InlineData("99999999999999999999d")]
    [InlineData("25:99:99")]
    [InlineData("soon")]
    public void Anything_else_is_not_a_duration(string? text)
    {
        Assert.False(Durations.TryParse(text, out _));
        if (text is not null)
        {
            var ex = Assert.Throws<ArgumentException>(() => Durations.Parse(text, "--hello"));
            Assert.StartsWith($"--hello: '{text}' is not a duration", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Only_the_unit_form_counts_as_units()
    {
        Assert.True(Durations.TryParseUnits("1m30s", out _));
        Assert.False(Durations.TryParseUnits("00:01:30", out _));
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(250, "250ms")]
    [InlineData(5_000, "5s")]
    [InlineData(120_000, "2m")]
    [InlineData(3_600_000, "1h")]
    [InlineData(1_500, "1500ms")]
    public void Format_writes_what_parse_reads(long milliseconds, string text)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);
        Assert.Equal(text, Durations.Format(value));
        Assert.Equal(value, Durations.Parse(Durations.Format(value), "x"));
    }
}
