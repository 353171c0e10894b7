// The rules a value must meet for where it is used: text without control characters and within a length, host
// names by RFC 1123, interface names as Linux takes them, and a size limit for a whole record.
using System.Text;
using Google.Protobuf;

namespace Kraken.Tree.State;

/// <summary>What a string value holds, which decides the rule it is checked by.</summary>
public enum TextRule : byte
{
    /// <summary>Free text: no control characters, at most the URL's length limit.</summary>
    Text,

    /// <summary>A host name by RFC 1123 (section 2.1): dot-separated labels of letters, digits and '-'.</summary>
    HostName,

    /// <summary>A Linux network interface name: 1 to 15 characters, none of them '/', ':' or whitespace.</summary>
    InterfaceName,
}

/// <summary>
/// Checks values and records against the limits of the state model. Every write to a store passes these checks
/// (<see cref="StateStore"/> checks whole records, <see cref="NodeEditor"/> each value), so a value that is stored,
/// synced or rendered into a boot file has met them.
/// </summary>
public static class ValueRules
{
    /// <summary>The length limit of a string value, in UTF-8 bytes, unless its URL says otherwise.</summary>
    public const int MaxTextBytes = 4096;

    /// <summary>The length limit of <c>/Nodename</c>, <c>/Arch</c> and <c>/Platform</c>, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 253;

    /// <summary>The longest host name (RFC 1123 with RFC 1035's 255-octet limit in its dotted form).</summary>
    public const int MaxHostNameLength = 253;

    /// <summary>The longest label of a host name (RFC 1035 2.3.4).</summary>
    public const int MaxLabelLength = 63;

    /// <summary>The longest Linux interface name (IFNAMSIZ less the terminating NUL).</summary>
    public const int MaxInterfaceNameLength = 15;

    /// <summary>The limit of one node record in one view, encoded (the form it is stored and synced in).</summary>
    public const int MaxRecordBytes = 64 * 1024;

    /// <summary>
    /// Checks <paramref name="text"/> by <paramref name="rule"/> and <paramref name="maxBytes"/>; the error says which
    /// rule failed, and quotes the value unless it is <paramref name="sensitive"/>.
    /// </summary>
    public static bool TryCheckText(string text, TextRule rule, int maxBytes, out string? error, bool sensitive = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        error = null;

        // Cheap before exact: a string of n chars is n to 3n bytes in UTF-8.
        if (text.Length > maxBytes || (text.Length * 3 > maxBytes && Encoding.UTF8.GetByteCount(text) > maxBytes))
        {
            error = $"{Quote(text, sensitive)} is longer than {maxBytes} bytes";
            return false;
        }

        if (FindControl(text) is var at and >= 0)
        {
            error = $"{Quote(text, sensitive)} holds a control character (U+{(int)text[at]:X4} at offset {at}), which no value may hold";
            return false;
        }

        return rule switch
        {
            TextRule.HostName => TryCheckHostName(text, sensitive, out error),
            TextRule.InterfaceName => TryCheckInterfaceName(text, sensitive, out error),
            _ => true,
        };
    }

    /// <summary>
    /// The offset of the first character no value may hold, or -1: C0 and C1 controls and DEL (line breaks, tabs,
    /// escapes), the Unicode line and paragraph separators, and a surrogate without its pair (not encodable).
    /// </summary>
    public static int FindControl(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < ' ' || (c >= '\u007F' && c <= '\u009F') || c is '\u2028' or '\u2029')
            {
                return i;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>True when <paramref name="text"/> is a host name by RFC 1123 (no trailing dot).</summary>
    public static bool IsHostName(string text) => TryCheckHostName(text, false, out _);

    private static bool TryCheckHostName(string text, bool sensitive, out string? error)
    {
        error = null;
        if (text.Length is 0 or > MaxHostNameLength)
        {
            error = $"{Quote(text, sensitive)} is not a host name: RFC 1123 allows 1 to {MaxHostNameLength} characters";
            return false;
        }

        var start = 0;
        while (true)
        {
            var dot = text.IndexOf('.', start);
            var label = dot < 0 ? text.AsSpan(start) : text.AsSpan(start, dot - start);
            if (label.Length is 0 or > MaxLabelLength)
            {
                error = $"{Quote(text, sensitive)} is not a host name: each dot-separated label has 1 to {MaxLabelLength} characters (RFC 1123)";
                return false;
            }

            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
                {
                    error = $"{Quote(text, sensitive)} is not a host name: '{c}' is not a letter, digit or '-' (RFC 1123)";
                    return false;
                }
            }

            if (label[0] == '-' || label[^1] == '-')
            {
                error = $"{Quote(text, sensitive)} is not a host name: a label neither starts nor ends with '-' (RFC 1123)";
                return false;
            }

            if (dot < 0)
            {
                return true;
            }

            start = dot + 1;
        }
    }

    private static bool TryCheckInterfaceName(string text, bool sensitive, out string? error)
    {
        error = null;
        if (text.Length is 0 or > MaxInterfaceNameLength || text is "." or ".." || text.Any(c => c is '/' or ':' || char.IsWhiteSpace(c)))
        {
            error = $"{Quote(text, sensitive)} is not an interface name (1 to {MaxInterfaceNameLength} characters, not '.' or '..', no '/', ':' or whitespace)";
            return false;
        }

        return true;
    }

    /// <summary>
    /// Checks every value of <paramref name="record"/> against its URL's type and rules, every map key, and the
    /// record's encoded size. Throws <see cref="InvalidStateValueException"/> naming the node and the URL.
    /// </summary>
    public static void CheckRecord(NodeRecord record)
    {
        if (!TryCheckRecord(record, out var url, out var error))
        {
            throw new InvalidStateValueException(url!, $"Node {record.Id}: invalid value for {url}: {error}.") { Node = record.Id };
        }
    }

    /// <summary>As <see cref="CheckRecord"/>, without throwing: the URL at fault and what is wrong with it.</summary>
    public static bool TryCheckRecord(NodeRecord record, out string? url, out string? error)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!TryCheckSize(record, out error))
        {
            url = "/";
            return false;
        }

        foreach (var (u, value) in record.Values())
        {
            for (var p = u; p is not null; p = p.Parent)
            {
                if (p.Kind == UrlKind.MapEntry && !StateSchema.IsValidKey(p.Key!))
                {
                    url = p.Path;
                    error = $"{Describe(p.Key!)} is not a valid key (letters, digits, '.', '_', ':' and '-', at most 128)";
                    return false;
                }
            }

            if (!u.ValueType!.TryCheck(value, out _, out error))
            {
                url = u.Path;
                return false;
            }
        }

        url = null;
        return true;
    }

    /// <summary>Checks the record's encoded size against <see cref="MaxRecordBytes"/>.</summary>
    public static bool TryCheckSize(NodeRecord record, out string? error)
    {
        ArgumentNullException.ThrowIfNull(record);
        var size = record.EncodedSize();
        error = size > MaxRecordBytes ? $"the record is {size} bytes encoded; a record holds at most {MaxRecordBytes}" : null;
        return error is null;
    }

    private static string Quote(string text, bool sensitive) => sensitive ? "the value" : Describe(text);

    /// <summary>A value as quoted in an error: short ones whole, long ones by their start and length.</summary>
    private static string Describe(string text)
    {
        const int Shown = 40;
        var shown = text.Length <= Shown ? text : text[..Shown];
        var sb = new StringBuilder(shown.Length + 24).Append('\'');
        foreach (var c in shown)
        {
            // An error message is logged and shown: it must not carry the control characters it reports.
            if (c < ' ' || (c >= '\u007F' && c <= '\u009F') || c is '\u2028' or '\u2029' || char.IsSurrogate(c))
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb.Append(c);
            }
        }

        sb.Append('\'');
        if (text.Length > Shown)
        {
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"... ({text.Length} characters)");
        }

        return sb.ToString();
    }

    internal static int StringSize(string? value) => value is null ? 0 : 1 + CodedOutputStream.ComputeStringSize(value);
}
