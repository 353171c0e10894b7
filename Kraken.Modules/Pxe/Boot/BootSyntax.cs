// The languages a boot template renders into (kernel command line, iPXE script, pxelinux config) and the rules a
// field value must meet in each: escaped where the language allows it, refused where it cannot be said safely.
using System.Text;
using Kraken.Tree.State;

namespace Kraken.Modules.Pxe;

/// <summary>
/// Where rendered text ends up. Flags, because kernel arguments are rendered into an iPXE script or a pxelinux config
/// and must then meet both languages' rules.
/// </summary>
[Flags]
public enum BootSyntax
{
    /// <summary>No language: values are inserted as they are (only control characters are refused).</summary>
    None = 0,

    /// <summary>
    /// The Linux kernel command line (lib/cmdline.c): whitespace separates parameters, and double quotes protect it
    /// (<c>key="a b"</c>); there is no escape, so a value cannot hold a double quote.
    /// </summary>
    KernelCommandLine = 1,

    /// <summary>
    /// An iPXE script: one command per line, split at whitespace with no quoting (runs of spaces collapse when the
    /// words are joined again); <c>||</c>, <c>&amp;&amp;</c> and <c>;</c> end a command, a word starting with <c>#</c>
    /// a line; <c>${...}</c> is expanded in every word, again after each expansion, with no escape.
    /// </summary>
    Ipxe = 2,

    /// <summary>A pxelinux config: line based, <c>APPEND</c> takes the rest of its line as the kernel command line.</summary>
    Pxelinux = 4,
}

/// <summary>A node's value that cannot be said safely in the boot file being rendered; names node, field and rule.</summary>
public sealed class BootRenderException : Exception
{
    public BootRenderException(NodeId node, string field, string message)
        : base($"node {node}: {{{{{field}}}}} {message}")
    {
        Node = node;
        Field = field;
    }

    public BootRenderException()
    {
        Field = "";
    }

    public BootRenderException(string message)
        : base(message)
    {
        Field = "";
    }

    public BootRenderException(string message, Exception innerException)
        : base(message, innerException)
    {
        Field = "";
    }

    public NodeId Node { get; }

    public string Field { get; }
}

/// <summary>Checks a field value against the rules of a <see cref="BootSyntax"/>; quoting is done by <see cref="BootTemplate"/>.</summary>
internal static class BootEscaping
{
    /// <summary>
    /// Null when <paramref name="value"/> may stand in <paramref name="syntax"/>, else why not. Every language is line
    /// or whitespace based, so no value may hold a control character (a line break would start a new command).
    /// </summary>
    public static string? Refusal(string value, BootSyntax syntax)
    {
        if (ValueRules.FindControl(value) is var at and >= 0)
        {
            return $"holds a control character (U+{(int)value[at]:X4}), which no boot file may carry";
        }

        if (syntax.HasFlag(BootSyntax.KernelCommandLine) && value.Contains('"', StringComparison.Ordinal))
        {
            return "holds a double quote, which the kernel command line cannot express";
        }

        if (syntax.HasFlag(BootSyntax.Ipxe))
        {
            if (value.Contains('$', StringComparison.Ordinal))
            {
                return "holds '$', which iPXE would expand as a setting (it has no escape)";
            }

            if (value.Contains("  ", StringComparison.Ordinal))
            {
                return "holds a run of spaces, which iPXE collapses";
            }

            foreach (var word in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (word is "||" or "&&" or ";" || word[0] == '#')
                {
                    return $"holds the word '{word}', which iPXE reads as the end of a command or the start of a comment";
                }
            }
        }

        return null;
    }

    /// <summary>
    /// One kernel parameter whose value holds spaces, quoted as the kernel reads it back: <c>key="a b"</c>, or
    /// <c>"word"</c> when the space is before any '='.
    /// </summary>
    public static void AppendQuoted(StringBuilder output, ReadOnlySpan<char> token)
    {
        var equals = token.IndexOf('=');
        if (equals > 0 && token[..equals].IndexOf(' ') < 0)
        {
            output.Append(token[..(equals + 1)]).Append('"').Append(token[(equals + 1)..]).Append('"');
        }
        else
        {
            output.Append('"').Append(token).Append('"');
        }
    }
}
