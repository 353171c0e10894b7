// Boot file templates: text with {{placeholder}} fields, parsed and checked once, rendered per node.
using System.Text;

namespace Kraken.Modules.Pxe;

/// <summary>
/// A template such as <c>kernel {{http}}/vmlinuz kraken.id={{node}}</c>. Fields are written in double braces so
/// iPXE's own <c>${var}</c> settings pass through untouched. Every field is checked when the template is parsed:
/// an unknown one is a configuration error naming the template's key, found at start, never at boot time.
/// </summary>
public sealed class BootTemplate
{
    /// <summary>Every field a template may use.</summary>
    public static IReadOnlyList<string> Fields { get; } =
    [
        "node", "hostname", "ip", "prefix", "netmask", "gateway", "mac", "mac-dashes",
        "server", "http", "kernel", "initrd", "kernel-args", "arch", "platform",
        "parents", "boot-url", "bootstrap",
    ];

    private readonly Segment[] _segments;

    private BootTemplate(string key, string text, Segment[] segments)
    {
        Key = key;
        Text = text;
        _segments = segments;
    }

    /// <summary>The configuration key the template came from (for error messages).</summary>
    public string Key { get; }

    public string Text { get; }

    /// <summary>The fields the template uses, in order of first use.</summary>
    public IEnumerable<string> UsedFields => _segments.Where(s => s.Field is not null).Select(s => s.Field!).Distinct(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="text"/>; throws <see cref="BootTemplateException"/> naming <paramref name="key"/> on an unknown or unterminated field.</summary>
    public static BootTemplate Parse(string key, string text, IReadOnlyCollection<string>? allowed = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(text);
        allowed ??= Fields;
        var segments = new List<Segment>();
        var pos = 0;
        while (pos < text.Length)
        {
            var open = text.IndexOf("{{", pos, StringComparison.Ordinal);
            if (open < 0)
            {
                segments.Add(new Segment(text[pos..], null));
                break;
            }

            if (open > pos)
            {
                segments.Add(new Segment(text[pos..open], null));
            }

            var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                throw new BootTemplateException(key, $"'{{{{' at offset {open} is never closed with '}}}}'");
            }

            var name = text[(open + 2)..close].Trim();
            if (!allowed.Contains(name, StringComparer.Ordinal))
            {
                throw new BootTemplateException(key, $"unknown field '{{{{{name}}}}}' (known: {string.Join(", ", allowed)})");
            }

            segments.Add(new Segment(null, name));
            pos = close + 2;
        }

        return new BootTemplate(key, text, [.. segments]);
    }

    /// <summary>Renders with <paramref name="values"/>; a field without a value renders as nothing.</summary>
    public string Render(Func<string, string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var sb = new StringBuilder(Text.Length + 64);
        foreach (var s in _segments)
        {
            sb.Append(s.Field is null ? s.Literal : values(s.Field));
        }

        return sb.ToString();
    }

    private readonly record struct Segment(string? Literal, string? Field);
}

/// <summary>A boot template that cannot be used; <see cref="Key"/> names the configuration key.</summary>
public sealed class BootTemplateException : Exception
{
    public BootTemplateException(string key, string message)
        : base($"{key}: {message}")
    {
        Key = key;
    }

    public BootTemplateException()
    {
        Key = "";
    }

    public BootTemplateException(string message)
        : base(message)
    {
        Key = "";
    }

    public BootTemplateException(string message, Exception innerException)
        : base(message, innerException)
    {
        Key = "";
    }

    public string Key { get; }
}
