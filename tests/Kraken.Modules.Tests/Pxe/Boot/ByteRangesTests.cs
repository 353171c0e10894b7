// Parsing of the Range header (every form RFC 9110 defines for one range, and what is ignored) and If-Range.
using Kraken.Modules.Pxe.Http;

namespace Kraken.Modules.Tests.Pxe.Boot;

public class ByteRangesTests
{
    [Theory]
    [InlineData("bytes=0-99", 0L, 100L, true)]
    [InlineData("bytes=990-", 990L, 10L, true)]
    [InlineData("bytes=990-5000", 990L, 10L, true)]
    [InlineData("bytes=-10", 990L, 10L, true)]
    [InlineData("bytes=-5000", 0L, 1000L, true)]
    [InlineData("BYTES=5-5", 5L, 1L, true)]
    [InlineData("bytes=1000-", 0L, 0L, false)]
    [InlineData("bytes=-0", 0L, 0L, false)]
    public void Single_ranges_are_clamped_to_the_file(string header, long start, long count, bool satisfiable) =>
        Assert.Equal((start, count, satisfiable), ByteRanges.Parse(header, 1000));

    [Theory]
    [InlineData("items=0-1")]
    [InlineData("bytes=")]
    [InlineData("bytes=5")]
    [InlineData("bytes=9-3")]
    [InlineData("bytes=a-b")]
    [InlineData("bytes=+1-2")]
    [InlineData("bytes=0-1,5-6")]
    [InlineData("bytes=99999999999999999999-")]
    public void Malformed_and_multiple_ranges_are_ignored(string header) => Assert.Null(ByteRanges.Parse(header, 1000));

    [Theory]
    [InlineData("\"abc\"", 206)]
    [InlineData("Fri, 02 Jan 2026 03:04:05 GMT", 206)]
    [InlineData("\"abd\"", 200)]
    [InlineData("W/\"abc\"", 200)]
    [InlineData("W/  ", 200)] // found by the http-range fuzz target: the framework's parser threw on it
    [InlineData("W/", 200)]
    [InlineData("\"", 200)]
    [InlineData("\"abc", 200)]
    [InlineData("Sat, 03 Jan 2026 03:04:05 GMT", 200)]
    [InlineData("yesterday", 200)]
    public void If_range_serves_the_range_only_for_the_same_strong_tag_or_date(string ifRange, int status)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Headers.Range = "bytes=10-19";
        context.Request.Headers.IfRange = ifRange;
        var (actual, start, count) = ByteRanges.Select(context.Request, 1000, new Microsoft.Net.Http.Headers.EntityTagHeaderValue("\"abc\""), new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        Assert.Equal(status, actual);
        Assert.Equal(status == 206 ? (10L, 10L) : (0L, 1000L), (start, count));
    }
}
