// Range and If-Range (RFC 9110 sections 13.1.5 and 14): which part of a file a GET gets.
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Kraken.Modules.Pxe.Http;

internal static class ByteRanges
{
    /// <summary>
    /// The status (200, 206 or 416), first byte and byte count for a request of a file of <paramref name="length"/>
    /// bytes. A Range that is not one well-formed <c>bytes=</c> range, or whose If-Range validator does not match,
    /// is ignored (200 with the whole file), as RFC 9110 allows.
    /// </summary>
    public static (int Status, long Start, long Count) Select(HttpRequest request, long length, EntityTagHeaderValue etag, DateTimeOffset lastModified)
    {
        var whole = (StatusCodes.Status200OK, 0L, length);
        var range = request.Headers.Range.ToString();
        if (range.Length == 0 || !HttpMethods.IsGet(request.Method))
        {
            return whole;
        }

        var ifRange = request.Headers.IfRange.ToString();
        if (ifRange.Length > 0 && !IfRangeMatches(ifRange, etag, lastModified))
        {
            return whole;
        }

        var parsed = Parse(range, length);
        return parsed switch
        {
            null => whole,
            { Satisfiable: false } => (StatusCodes.Status416RangeNotSatisfiable, 0L, 0L),
            var (start, count, _) => (StatusCodes.Status206PartialContent, start, count),
        };
    }

    /// <summary>Parses one <c>bytes=a-b</c>, <c>bytes=a-</c> or <c>bytes=-n</c>; null when absent, malformed or multi-range.</summary>
    public static (long Start, long Count, bool Satisfiable)? Parse(string header, long length)
    {
        const string Unit = "bytes=";
        var span = header.AsSpan().Trim();
        if (!span.StartsWith(Unit, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        span = span[Unit.Length..].Trim();
        if (span.Contains(','))
        {
            return null;
        }

        var dash = span.IndexOf('-');
        if (dash < 0)
        {
            return null;
        }

        var first = span[..dash].Trim();
        var last = span[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            // Suffix range: the last n bytes.
            if (!TryDigits(last, out var suffix))
            {
                return null;
            }

            if (suffix == 0 || length == 0)
            {
                return (0, 0, false);
            }

            var n = Math.Min(suffix, length);
            return (length - n, n, true);
        }

        if (!TryDigits(first, out var start))
        {
            return null;
        }

        long end;
        if (last.IsEmpty)
        {
            end = length - 1;
        }
        else if (!TryDigits(last, out end) || end < start)
        {
            return null;
        }

        if (start >= length)
        {
            return (0, 0, false);
        }

        end = Math.Min(end, length - 1);
        return (start, end - start + 1, true);
    }

    private static bool IfRangeMatches(string ifRange, EntityTagHeaderValue etag, DateTimeOffset lastModified)
    {
        // A strong comparison: a weak tag never matches, and is not parsed (EntityTagHeaderValue.TryParse throws
        // ArgumentOutOfRangeException on "W/" followed by spaces, where it should answer false).
        if (ifRange.StartsWith("W/", StringComparison.Ordinal))
        {
            return false;
        }

        if (ifRange.StartsWith('"'))
        {
            return EntityTagHeaderValue.TryParse(ifRange, out var tag) && !tag.IsWeak && tag.Tag == etag.Tag;
        }

        return HeaderUtilities.TryParseDate(ifRange, out var date) && date == lastModified;
    }

    private static bool TryDigits(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        return !text.IsEmpty && text.IndexOfAnyExceptInRange('0', '9') < 0
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
