// Boot file templates: text with {{placeholder}} fields, parsed and checked once, rendered per node.
using System.Text;
using Kraken.Tree.State;

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
    public string Render(Func<string, string?> values) => Render(values, BootSyntax.None, default, null);

    /// <summary>
    /// Renders with <paramref name="values"/> for <paramref name="syntax"/>: each value is checked against the
    /// language's rules (<see cref="BootRenderException"/> naming <paramref name="node"/> and the field when it cannot
    /// be said safely), and for the kernel command line a parameter whose value holds spaces is quoted
    /// (<c>key="a b"</c>) unless the template quotes it itself. <paramref name="verbatimField"/> is inserted
    /// unchecked: text already rendered for this file (the kernel arguments inside a script).
    /// </summary>
    public string Render(Func<string, string?> values, BootSyntax syntax, NodeId node, string? verbatimField)
    {
        ArgumentNullException.ThrowIfNull(values);
        var output = new StringBuilder(Text.Length + 64);
        var kernel = syntax.HasFlag(BootSyntax.KernelCommandLine);
        var token = new StringBuilder();
        var tokenHasSpace = false;
        var tokenHasQuote = false;

        void EndToken()
        {
            if (tokenHasSpace && !tokenHasQuote)
            {
                BootEscaping.AppendQuoted(output, token.ToString());
            }
            else
            {
                output.Append(token);
            }

            token.Clear();
            tokenHasSpace = tokenHasQuote = false;
        }

        foreach (var s in _segments)
        {
            if (s.Field is null)
            {
                if (!kernel)
                {
                    output.Append(s.Literal);
                    continue;
                }

                foreach (var c in s.Literal!)
                {
                    if (KernelWhitespace(c))
                    {
                        EndToken();
                        output.Append(c);
                    }
                    else
                    {
                        token.Append(c);
                        tokenHasQuote |= c == '"';
                    }
                }

                continue;
            }

            var value = values(s.Field) ?? "";
            if (s.Field != verbatimField && BootEscaping.Refusal(value, syntax) is { } refusal)
            {
                throw new BootRenderException(node, s.Field, $"'{Shorten(value)}' {refusal} ({Key})");
            }

            if (kernel)
            {
                token.Append(value);
                tokenHasSpace |= value.Contains(' ', StringComparison.Ordinal);
            }
            else
            {
                output.Append(value);
            }
        }

        EndToken();
        return output.ToString();
    }

    // The kernel's isspace: space and \t to \r.
    private static bool KernelWhitespace(char c) => c is ' ' or (>= '\t' and <= '\r');

    private static string Shorten(string value)
    {
        var shown = value.Length <= 40 ? value : value[..40] + "...";
        var sb = new StringBuilder(shown.Length);
        foreach (var c in shown)
        {
            if (ValueRules.FindControl(c.ToString()) >= 0)
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb.Append(c);
            }
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
