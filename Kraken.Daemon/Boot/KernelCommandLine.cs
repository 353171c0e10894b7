// Splits a kernel command line (/proc/cmdline) into parameters the way the kernel does (lib/cmdline.c next_arg):
// whitespace separates, double quotes protect spaces, and a bare "--" hands the rest to init.
namespace Kraken.Daemon.Boot;

/// <summary>One kernel parameter: <c>key=value</c>, or a bare <c>key</c> with a null value.</summary>
public readonly record struct KernelParameter(string Key, string? Value);

public static class KernelCommandLine
{
    /// <summary>
    /// The parameters of <paramref name="commandLine"/>, in order, up to a bare <c>--</c>. As in the kernel:
    /// <c>key="a b"</c> and <c>"key=a b"</c> both give <c>a b</c>; a quote elsewhere only protects the spaces
    /// up to the next quote and is kept; an unclosed quote runs to the end of the line; there is no escape.
    /// </summary>
    public static IReadOnlyList<KernelParameter> Split(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var parameters = new List<KernelParameter>();
        var text = commandLine.AsSpan();
        var position = 0;
        while (true)
        {
            while (position < text.Length && IsSpace(text[position]))
            {
                position++;
            }

            if (position >= text.Length)
            {
                return parameters;
            }

            var quoted = text[position] == '"';
            var start = quoted ? position + 1 : position;
            var inQuote = quoted;
            var equals = -1;
            var end = start;
            for (; end < text.Length; end++)
            {
                var c = text[end];
                if (IsSpace(c) && !inQuote)
                {
                    break;
                }

                // The first '=' after the first character splits key from value, as next_arg's "equals == 0" test.
                if (equals < 0 && c == '=' && end > start)
                {
                    equals = end;
                }

                if (c == '"')
                {
                    inQuote = !inQuote;
                }
            }

            position = end;
            var token = text[start..end];
            var closingQuote = token.Length > 0 && token[^1] == '"';
            if (equals < 0)
            {
                var key = quoted && closingQuote ? token[..^1] : token;
                if (key.SequenceEqual("--"))
                {
                    return parameters;
                }

                parameters.Add(new KernelParameter(key.ToString(), null));
                continue;
            }

            var name = text[start..equals];
            var value = text[(equals + 1)..end];
            if (value.Length > 0 && value[0] == '"')
            {
                value = value[1..];
                if (closingQuote && value.Length > 0)
                {
                    value = value[..^1];
                }
            }
            else if (quoted && closingQuote)
            {
                value = value[..^1];
            }

            parameters.Add(new KernelParameter(name.ToString(), value.ToString()));
        }
    }

    /// <summary>Renders one parameter, quoting a value that holds whitespace. A value cannot hold a double quote.</summary>
    public static string Format(string key, string value)
    {
        if (value.Contains('"', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{key}: a kernel parameter's value cannot hold a double quote", nameof(value));
        }

        foreach (var c in value)
        {
            if (IsSpace(c))
            {
                return $"{key}=\"{value}\"";
            }
        }

        return $"{key}={value}";
    }

    /// <summary>The kernel's isspace: space, \t, \n, \v, \f, \r.</summary>
    internal static bool IsSpace(char c) => c is ' ' or (>= '\t' and <= '\r');
}
