// "kraken VERB ...": the command tree (System.CommandLine), its help and version, and parse errors as usage errors.
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace Kraken.Daemon.Cli;

public static partial class CommandLine
{
    public const string DefaultServer = "http://127.0.0.1:3141";

    private const string Description = """
        Kraken: a distributed state engine for HPC clusters. 'kraken serve' runs the daemon; the client verbs talk to a
        daemon's REST API; store, image and lab work on this machine.
        """;

    /// <summary>Response files (<c>@file</c>) are off: a word starting with '@' is a value like any other.</summary>
    private static readonly ParserConfiguration s_parser = new() { ResponseFileTokenReplacer = null };

    /// <summary>Runs one invocation; the process exit code (0 ok, 1 failed, 2 bad usage).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var root = Create();
        if (args.Length == 0)
        {
            await stderr.WriteAsync(CliHelp.Text(root)).ConfigureAwait(false);
            return 2;
        }

        var parse = root.Parse(args, s_parser);
        var hint = $"run 'kraken {CliHelp.Path(parse.CommandResult.Command)} --help' for usage".Replace("kraken  --help", "kraken --help", StringComparison.Ordinal);
        if ((SuggestError(args) ?? UsageError(parse)) is { } error)
        {
            await stderr.WriteLineAsync($"kraken: {error}").ConfigureAwait(false);
            await stderr.WriteLineAsync(hint).ConfigureAwait(false);
            return 2;
        }

        try
        {
            var invocation = new InvocationConfiguration
            {
                Output = stdout,
                Error = stderr,
                EnableDefaultExceptionHandler = false,

                // The daemon handles SIGTERM itself (graceful shutdown, exit 0); the clients end on Ctrl-C as before.
                ProcessTerminationTimeout = null,
            };
            return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync($"kraken: {ex.Message}").ConfigureAwait(false);
            if (ex.ExitCode == 2)
            {
                await stderr.WriteLineAsync(hint).ConfigureAwait(false);
            }

            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
    }

    /// <summary>True when this kraken has the verb at <paramref name="path"/> (<c>"image build"</c>).</summary>
    internal static bool HasVerb(string path)
    {
        Command command = Create();
        foreach (var word in path.Split(' '))
        {
            if (command.Subcommands.FirstOrDefault(c => c.Name == word) is not { } next)
            {
                return false;
            }

            command = next;
        }

        return true;
    }

    /// <summary>The whole command tree: every verb, its options, help text and action.</summary>
    internal static RootCommand Create()
    {
        var root = new RootCommand(Description.ReplaceLineEndings(" "));

        // Our own help (one renderer for the terminal and docs/cli.md) and version (how this kraken was built).
        foreach (var option in root.Options.Where(o => o is HelpOption or VersionOption).ToList())
        {
            root.Options.Remove(option);
        }

        root.Options.Add(new HelpOption("--help", "-h") { Action = new HelpVerbAction() });
        root.Options.Add(new VersionOption("--version") { Description = "Print the version and how this kraken was built (aot, single-file, jit)", Action = new VersionVerbAction() });
        AddLocalVerbs(root);
        AddClientVerbs(root);
        AddShellVerbs(root);
        return root;
    }

    /// <summary>
    /// A completion request (<c>[suggest:N] "WORDS"</c>, what the completion scripts send) whose cursor position is
    /// not within the words; System.CommandLine would fail on it rather than answer.
    /// </summary>
    private static string? SuggestError(string[] args)
    {
        // Directives come first, each one word in brackets; the words after them are what is being completed.
        var directives = args.TakeWhile(a => a.StartsWith('[') && a.EndsWith(']')).ToList();
        var text = string.Join(' ', args.Skip(directives.Count));
        foreach (var directive in directives.Where(d => d.StartsWith("[suggest:", StringComparison.Ordinal)))
        {
            if (!int.TryParse(directive.AsSpan("[suggest:".Length, directive.Length - "[suggest:".Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var position) || position > text.Length)
            {
                return $"{directive}: the cursor position must be a number from 0 to {text.Length} (the length of the words after it)";
            }
        }

        return null;
    }

    /// <summary>The message for a command line that does not parse (null when it does), in kraken's own words.</summary>
    private static string? UsageError(ParseResult parse)
    {
        if (parse.Errors.Count == 0 || ShowsHelpOrVersion(parse))
        {
            return null;
        }

        var command = parse.CommandResult.Command;
        var path = CliHelp.Path(command);
        var verbs = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
        if (command.TreatUnmatchedTokensAsErrors && parse.UnmatchedTokens is [var token, ..])
        {
            var isOption = token.Length > 1 && token[0] == '-' && !double.TryParse(token, System.Globalization.CultureInfo.InvariantCulture, out _);
            return (isOption, command.Action, path) switch
            {
                (true, null, "") => "missing a verb (options alone, such as --json, run nothing)",
                (true, _, _) => $"unknown option {token}",
                (false, null, "") => $"unknown verb '{token}'",
                (false, null, _) => $"'{path} {token}' is not a verb; use {CliOptions.Or([.. verbs.Select(v => $"{path} {v}")])}",
                _ => $"unexpected argument '{token}'",
            };
        }

        if (command.Action is null && command.Subcommands.Count > 0)
        {
            return path.Length == 0 ? "missing a verb" : $"{path} needs a verb: {string.Join(", ", verbs)}";
        }

        var first = parse.Errors[0];
        return first.SymbolResult switch
        {
            OptionResult { IdentifierTokenCount: 0 } o => $"{o.Option.Name} is required",
            OptionResult { Tokens.Count: 0 } o => $"{o.Option.Name} needs a value",
            OptionResult { IdentifierTokenCount: > 1 } o when o.Option.Arity.MaximumNumberOfValues == 1 => $"{o.Option.Name} is given {o.IdentifierTokenCount} times; give it once",
            ArgumentResult { Tokens.Count: 0 } a => $"missing {a.Argument.Name}",
            _ => first.Message,
        };
    }

    /// <summary>True when the invocation prints help or the version and does nothing else.</summary>
    internal static bool ShowsHelpOrVersion(ParseResult parse) => parse.Action is HelpVerbAction or VersionVerbAction;

    /// <summary>"--help": the help of the verb it follows, on standard output.</summary>
    private sealed class HelpVerbAction : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.Write(CliHelp.Text(parseResult.CommandResult.Command));
            return 0;
        }
    }

    private sealed class VersionVerbAction : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(BuildInfo.Line);
            return 0;
        }
    }
}
