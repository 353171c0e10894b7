// Help from the command definitions: the text "kraken VERB --help" prints, and docs/cli.md (the same words as markdown).
using System.CommandLine;
using System.CommandLine.Help;
using System.Text;

namespace Kraken.Daemon.Cli;

internal static class CliHelp
{
    /// <summary>The width help text is wrapped to.</summary>
    private const int Width = 100;

    /// <summary>The top-level verbs in the groups help shows them in; a verb in no group is listed last.</summary>
    private static readonly (string Title, string[] Verbs)[] s_groups =
    [
        ("Daemon and this machine", ["serve", "init", "store", "image", "lab"]),
        ("Client verbs (talk to a daemon's API)", ["nodes", "node", "bulk", "import", "export", "graph", "plan", "freeze", "thaw", "tree", "watch", "power"]),
        ("Shell", ["completion", "help"]),
    ];

    /// <summary>Options every client verb takes (a client verb is one with --server), shown under their own heading.</summary>
    private static readonly HashSet<string> s_clientOptions = new(StringComparer.Ordinal) { "--server", "--token", "--token-file", "--output", "--json", "--timeout" };

    private const string MarkdownIntro = """
        # The kraken command line

        <!-- Generated from the definitions in Kraken.Daemon/Cli by `kraken cli-reference`; a test keeps this file equal
             to them. Edit the definitions, then run: kraken cli-reference > docs/cli.md -->

        One executable: `kraken serve` runs the daemon ([daemon.md](daemon.md)), the client verbs talk to a daemon's REST
        API, and `init`, `store`, `image` and `lab` work on this machine. `kraken --help`, `kraken VERB --help` and
        `kraken help VERB` print what this page says about each verb; `kraken --version` prints the version and how this
        kraken was built (`aot`, `single-file` or `jit`).

        **Exit codes.** 0 success; 1 the daemon refused or the operation failed (the message says why); 2 bad usage: an
        unknown verb or option, a missing or malformed value. Every error is one line on standard error starting with
        `kraken:`, never a stack trace.

        **Durations.** Wherever a verb takes a duration (`--timeout`, `--call-timeout`, `lab up --timeout`) it reads a
        bare number as seconds (`30`, `0.5`) or a duration with units: `250ms`, `5s`, `1m30s`, `2h`, `1d`, or the .NET
        form `00:00:05`. The daemon's configuration reads the same units (`"HelloInterval": "5s"`,
        `--Sync:DeadInterval=1m30s`; a bare number there keeps its old meaning, days).

        **Output.** Every client verb takes `-o table` (the default, for people), `-o wide` (the table with every
        column the verb has: `nodes list` adds arch and platform) or `-o json` (the API's JSON, for scripts); `--json`
        is `-o json`. Options that used to be called `--output` and name a file or directory have their own names now:
        `kraken export --file FILE`, `kraken image build --dir DIR` (`--output DIR` is still accepted there).

        **Completion.** `source <(kraken completion bash)` in `~/.bashrc`, or `kraken completion bash >
        /etc/bash_completion.d/kraken`; for zsh, `source <(kraken completion zsh)` after `compinit`, or save it as `_kraken`
        in a directory of `$fpath`. The scripts ask kraken itself (its `[suggest]` directive), so they complete every
        verb, option and choice of the kraken they run.
        """;

    /// <summary>"nodes list" for that command; empty for the root.</summary>
    public static string Path(Command command)
    {
        var words = new List<string>();
        for (var c = command; c.Parents.OfType<Command>().FirstOrDefault() is { } parent; c = parent)
        {
            words.Insert(0, c.Name);
        }

        return string.Join(' ', words);
    }

    /// <summary>What <c>kraken PATH --help</c> prints.</summary>
    public static string Text(Command command)
    {
        var sb = new StringBuilder();
        sb.Append("Usage: ").AppendLine(Usage(command)).AppendLine();
        Wrap(sb, command.Description ?? string.Empty, string.Empty);
        if (command.Parents.Any())
        {
            Section(sb, "Arguments", command.Arguments.Where(a => !a.Hidden).Select(a => (ArgumentLabel(a), a.Description ?? string.Empty)));
            Section(sb, "Options", Options(command).Where(o => !IsClientOption(command, o)).Select(o => (OptionLabel(o), o.Description ?? string.Empty)));
            Section(sb, "Client options", Options(command).Where(o => IsClientOption(command, o)).Select(o => (OptionLabel(o), o.Description ?? string.Empty)));
            Section(sb, "Verbs", Verbs(command).Select(c => (c.Name, Summary(c))));
            return sb.ToString();
        }

        foreach (var (title, verbs) in Groups(command))
        {
            Section(sb, title, verbs.Select(c => (c.Name, Summary(c))));
        }

        Section(sb, "Options", Options(command).Select(o => (OptionLabel(o), o.Description ?? string.Empty)));
        sb.AppendLine().AppendLine("Run 'kraken VERB --help' for a verb's arguments and options; docs/cli.md has them all.");
        return sb.ToString();
    }

    /// <summary>docs/cli.md: every visible verb with its usage, arguments and options.</summary>
    public static string Markdown(RootCommand root)
    {
        var sb = new StringBuilder(MarkdownIntro).AppendLine().AppendLine();
        var clientVerb = Leaves(root).First(IsClient);
        sb.AppendLine("**Client options**, taken by every client verb:").AppendLine();
        Table(sb, "option", Options(clientVerb).Where(o => IsClientOption(clientVerb, o)).Select(o => (OptionLabel(o), o.Description ?? string.Empty)));
        foreach (var (title, verbs) in Groups(root))
        {
            sb.AppendLine().Append("## ").AppendLine(title);
            foreach (var verb in verbs)
            {
                foreach (var command in verb.Subcommands.Count == 0 ? [verb] : Verbs(verb))
                {
                    sb.AppendLine().Append("### kraken ").AppendLine(Path(command)).AppendLine();
                    sb.AppendLine("```").Append(Usage(command)).AppendLine().AppendLine("```").AppendLine();
                    sb.AppendLine(command.Description);
                    var rows = command.Arguments.Where(a => !a.Hidden).Select(a => (ArgumentLabel(a), a.Description ?? string.Empty))
                        .Concat(Options(command).Where(o => o is not HelpOption && !IsClientOption(command, o)).Select(o => (OptionLabel(o), o.Description ?? string.Empty)))
                        .ToList();
                    if (rows.Count > 0)
                    {
                        sb.AppendLine();
                        Table(sb, "argument or option", rows);
                    }

                    if (IsClient(command))
                    {
                        sb.AppendLine().AppendLine("And the client options.");
                    }
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>"kraken node set ID URL=VALUE... [options]".</summary>
    private static string Usage(Command command)
    {
        var sb = new StringBuilder("kraken");
        var path = Path(command);
        if (path.Length > 0)
        {
            sb.Append(' ').Append(path);
        }

        if (Verbs(command).Any())
        {
            sb.Append(" VERB");
        }

        foreach (var argument in command.Arguments.Where(a => !a.Hidden))
        {
            sb.Append(' ').Append(ArgumentLabel(argument));
        }

        sb.Append(" [options]");
        if (!command.TreatUnmatchedTokensAsErrors)
        {
            sb.Append(" [--Section:Key=value...]");
        }

        return sb.ToString();
    }

    private static string ArgumentLabel(Argument argument)
    {
        var name = argument.HelpName ?? argument.Name;
        var many = argument.Arity.MaximumNumberOfValues > 1 ? "..." : string.Empty;
        return argument.Arity.MinimumNumberOfValues == 0 ? $"[{name}]{many}" : name + many;
    }

    private static string OptionLabel(Option option)
    {
        var names = option.Aliases.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Append(option.Name)
            .Concat(option.Aliases.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        var label = string.Join(", ", names);
        return option.ValueType == typeof(bool) || option.Arity.MaximumNumberOfValues == 0 ? label : $"{label} {option.HelpName ?? "VALUE"}";
    }

    /// <summary>The command's own options, then those it inherits (help), each once.</summary>
    private static IEnumerable<Option> Options(Command command)
    {
        var inherited = new List<Option>();
        for (var c = command.Parents.OfType<Command>().FirstOrDefault(); c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            inherited.AddRange(c.Options.Where(o => o.Recursive));
        }

        return command.Options.Concat(inherited).Where(o => !o.Hidden).Distinct();
    }

    private static bool IsClient(Command command) => command.Options.Any(o => o.Name == "--server");

    private static bool IsClientOption(Command command, Option option) => IsClient(command) && s_clientOptions.Contains(option.Name);

    /// <summary>The first sentence of a verb's description, for lists of verbs.</summary>
    private static string Summary(Command command)
    {
        var text = command.Description ?? string.Empty;
        var end = text.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? text : text[..(end + 1)];
    }

    private static IEnumerable<Command> Verbs(Command command) => command.Subcommands.Where(c => !c.Hidden);

    private static IEnumerable<Command> Leaves(Command command) =>
        Verbs(command).SelectMany(c => c.Subcommands.Count == 0 ? [c] : Leaves(c));

    private static IEnumerable<(string Title, List<Command> Verbs)> Groups(Command root)
    {
        var verbs = Verbs(root).ToList();
        foreach (var (title, names) in s_groups)
        {
            yield return (title, [.. names.Select(n => verbs.FirstOrDefault(v => v.Name == n)).OfType<Command>()]);
        }

        var grouped = s_groups.SelectMany(g => g.Verbs).ToHashSet(StringComparer.Ordinal);
        if (verbs.Where(v => !grouped.Contains(v.Name)).ToList() is { Count: > 0 } others)
        {
            yield return ("Other", others);
        }
    }

    private static void Section(StringBuilder sb, string title, IEnumerable<(string Label, string Description)> rows)
    {
        var list = rows.ToList();
        if (list.Count == 0)
        {
            return;
        }

        sb.AppendLine().Append(title).AppendLine(":");
        var column = Math.Min(list.Max(r => r.Label.Length), 32) + 4;
        foreach (var (label, description) in list)
        {
            var first = "  " + label;
            if (first.Length + 2 > column)
            {
                sb.AppendLine(first);
                first = string.Empty;
            }

            Wrap(sb, description, first.PadRight(column), new string(' ', column));
        }
    }

    private static void Table(StringBuilder sb, string what, IEnumerable<(string Label, string Description)> rows)
    {
        sb.Append("| ").Append(what).AppendLine(" | |").AppendLine("|---|---|");
        foreach (var (label, description) in rows)
        {
            // GitHub's tables split cells at every unescaped '|', inside code spans too.
            sb.Append("| `").Append(label.Replace("|", "\\|", StringComparison.Ordinal)).Append("` | ").Append(description.Replace("|", "\\|", StringComparison.Ordinal)).AppendLine(" |");
        }
    }

    /// <summary>Appends <paramref name="text"/> wrapped at <see cref="Width"/>, the first line after <paramref name="first"/>.</summary>
    private static void Wrap(StringBuilder sb, string text, string first, string? rest = null)
    {
        var line = new StringBuilder(first);
        var empty = true;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!empty && line.Length + 1 + word.Length > Width)
            {
                sb.AppendLine(line.ToString().TrimEnd());
                line.Clear().Append(rest ?? first);
                empty = true;
            }

            line.Append(empty ? string.Empty : " ").Append(word);
            empty = false;
        }

        sb.AppendLine(line.ToString().TrimEnd());
    }
}
