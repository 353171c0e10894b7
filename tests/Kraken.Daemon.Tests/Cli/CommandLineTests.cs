// The command line itself, without a daemon: help for every verb, version, usage errors, malformed input, completion, docs/cli.md.
using System.CommandLine;
using Kraken.Daemon.Cli;
using Process = Kraken.Daemon.Tests.Pxe.Command;
using static Kraken.Daemon.Tests.Cli.CliRun;

namespace Kraken.Daemon.Tests.Cli;

public sealed class CommandLineTests
{
    /// <summary>No daemon listens on port 1: a client verb that gets past parsing fails to connect (exit 1).</summary>
    private const string Nowhere = "http://127.0.0.1:1";

    /// <summary>Every verb, hidden ones included, as its words ("nodes list").</summary>
    private static IEnumerable<Command> AllCommands(Command command) =>
        command.Subcommands.SelectMany(c => AllCommands(c).Prepend(c));

    public static TheoryData<string> VerbPaths() => [.. AllCommands(CommandLine.Create()).Select(CliHelp.Path)];

    [Theory]
    [MemberData(nameof(VerbPaths))]
    public async Task Every_verb_has_help_naming_its_options(string path)
    {
        var words = path.Split(' ');
        var command = words.Aggregate((Command)CommandLine.Create(), (c, w) => c.Subcommands.Single(s => s.Name == w));

        var (code, help, err) = await Run([.. words, "--help"]);
        Assert.True(code == 0, err);
        Assert.StartsWith($"Usage: kraken {path}", help, StringComparison.Ordinal);
        Assert.Contains(command.Description!.Split(' ')[0], help, StringComparison.Ordinal);
        foreach (var option in command.Options)
        {
            Assert.Contains(option.Name, help, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{path} {option.Name} has no description");
        }

        foreach (var argument in command.Arguments)
        {
            Assert.Contains(argument.Name, help, StringComparison.Ordinal);
        }

        var viaHelp = await Run(["help", .. words]);
        Assert.Equal((0, help), (viaHelp.Code, viaHelp.Out));
        var viaShort = await Run([.. words, "-h"]);
        Assert.Equal((0, help), (viaShort.Code, viaShort.Out));
    }

    [Fact]
    public async Task The_root_help_lists_every_visible_verb_and_bare_kraken_is_a_usage_error()
    {
        var (code, help, _) = await Run("--help");
        Assert.Equal(0, code);
        foreach (var verb in CommandLine.Create().Subcommands)
        {
            Assert.Equal(!verb.Hidden, help.Contains($"\n  {verb.Name} ", StringComparison.Ordinal));
        }

        (code, var output, var err) = await Run();
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Equal(help, err);
    }

    [Fact]
    public async Task Version_prints_the_version_and_how_kraken_was_built()
    {
        foreach (var args in new[] { new[] { "--version" }, ["version"] })
        {
            var (code, output, _) = await Run(args);
            Assert.Equal(0, code);
            Assert.Equal(BuildInfo.Line + Environment.NewLine, output);
            Assert.Equal("jit", BuildInfo.KindOf(output));
        }
    }

    [Theory]
    [InlineData("unknown verb 'frobnicate'", "frobnicate")]
    [InlineData("missing a verb (options alone, such as --json, run nothing)", "--json")]
    [InlineData("'nodes bogus' is not a verb; use nodes list", "nodes", "bogus")]
    [InlineData("nodes needs a verb: list", "nodes")]
    [InlineData("unknown option --bogus", "nodes", "list", "--bogus")]
    [InlineData("unexpected argument 'extra'", "nodes", "list", "extra")]
    [InlineData("--filter needs a value", "nodes", "list", "--filter")]
    [InlineData("--output 'xml': use table, wide or json", "nodes", "list", "-o", "xml")]
    [InlineData("--output 'cluster.json': use table, wide or json", "export", "--output", "cluster.json")]
    [InlineData("--json and -o table disagree", "tree", "--json", "-o", "table")]
    [InlineData("--timeout '5x' is not a positive duration", "tree", "--timeout", "5x")]
    [InlineData("--timeout '0' is not a positive duration", "tree", "--timeout", "0")]
    [InlineData("--timeout '-1s' is not a positive duration", "tree", "--timeout=-1s")]
    [InlineData("--call-timeout 'soon' is not a positive duration", "power", "on", "--all", "--call-timeout", "soon")]
    [InlineData("--count 'two' is not a positive number", "watch", "--count", "two")]
    [InlineData("--count '0' is not a positive number", "watch", "--count", "0")]
    [InlineData("--retries '-1' is not a non-negative number", "power", "off", "--retries", "-1")]
    [InlineData("--server is given 2 times; give it once", "tree", "--server", Nowhere, "--server", Nowhere)]
    [InlineData("missing ID", "node", "get")]
    [InlineData("missing URL=VALUE", "node", "set", "00000000-0000-4000-8000-000000001001")]
    [InlineData("--mode 'merge': use upsert or create", "import", "f.json", "--mode", "merge")]
    [InlineData("--role is required", "init")]
    [InlineData("--role 'king': use root, tier1 or leaf", "init", "--role", "king")]
    [InlineData("no completion for 'fish'; use bash or zsh", "completion", "fish")]
    [InlineData("'power explode' is not a verb", "power", "explode")]
    [InlineData("'lab sideways' is not a verb; use lab up, lab status or lab down", "lab", "sideways")]
    [InlineData("[suggest:-1]: the cursor position must be a number from 0 to 5", "[suggest:-1]", "nodes")]
    [InlineData("[suggest:6]: the cursor position must be a number from 0 to 5", "[suggest:6]", "nodes")]
    [InlineData("--server 'ftp://x' is not an http(s) URL", "tree", "--server", "ftp://x")]
    public async Task Bad_usage_exits_2_with_one_clear_line(string expected, params string[] args)
    {
        var (code, output, err) = await Run(args);
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.StartsWith("kraken", err, StringComparison.Ordinal);
        Assert.Contains(expected, err, StringComparison.Ordinal);
        Assert.Contains("--help' for usage", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_serve_override_that_is_not_Section_Key_is_a_configuration_error()
    {
        var (code, _, err) = await Run("serve", "-o=json");
        Assert.Equal(2, code);
        Assert.Contains("kraken serve: configuration error:", err, StringComparison.Ordinal);
        Assert.Contains("Overrides are written --Section:Key=value", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("0.5")]
    [InlineData("250ms")]
    [InlineData("1m30s")]
    [InlineData("00:00:05")]
    public async Task Durations_are_read_in_every_form(string timeout)
    {
        // Parsed, then the verb runs and cannot reach the daemon: exit 1, not a usage error.
        var (code, _, err) = await Run("tree", "--timeout", timeout, "--server", Nowhere);
        Assert.Equal(1, code);
        Assert.Contains("cannot reach", err, StringComparison.Ordinal);
    }

    /// <summary>
    /// Random argument vectors from verbs, options and hostile values. Verbs that change this machine (serve, init,
    /// lab, image build, store repair and rebuild) are only parsed: their vectors run when they do not parse. Client
    /// verbs run against a port where nothing listens.
    /// </summary>
    [Fact]
    public async Task No_argument_vector_crashes_the_command_line()
    {
        string[] values =
        [
            "", " ", "-", "--", "---", "-o", "--output", "=", "--=x", "-=", "--json", "--help", "-h", "--version", "-1", "0",
            "5", "5x", "1e999", "NaN", "-5s", "1m30s", "99999999999999999999d", "00:00:05", "25:99:99", "\0", "\u00e9\u6f22",
            "@file", "[suggest]", "[suggest:999]", "[suggest:-1]", "[diagram]", "json", "wide", "xml", "x=", "=y", "/PhysState=POWER_ON",
            "/", ".", "..", "ftp://x", Nowhere, "00000000-0000-4000-8000-000000001001", "not-a-uuid", new string('a', 5000),
            "--timeout", "--call-timeout", "--retries", "--count", "--server", "--token", "--token-file", "--filter", "--id",
            "--under", "--dsc", "--all", "--wait", "--mode", "--file", "--role", "--dir", "--parent", "--node-id", "--path",
            "--config", "--boot", "--cmdline", "--tier1", "--type", "--view", "--Api:Url=x", "--timeout=", "--count=-3", "-o=json",
        ];
        var verbs = AllCommands(CommandLine.Create()).Select(c => CliHelp.Path(c).Split(' ')).Append([]).ToList();
        string[] changesThisMachine = ["serve", "init", "lab", "image", "store repair", "store rebuild"];
        var random = new Random(20261208);
        var ran = 0;
        for (var i = 0; i < 1500; i++)
        {
            var verb = verbs[random.Next(verbs.Count)];
            string[] args = [.. verb.Take(random.Next(verb.Length + 1)), .. Enumerable.Range(0, random.Next(5)).Select(_ => values[random.Next(values.Length)])];
            if (random.Next(4) == 0)
            {
                args = [.. args.OrderBy(_ => random.Next())];
            }

            var parse = CommandLine.Create().Parse(args);
            var path = CliHelp.Path(parse.CommandResult.Command);
            if (parse.Errors.Count == 0 && changesThisMachine.Any(v => path.StartsWith(v, StringComparison.Ordinal)) && !CommandLine.ShowsHelpOrVersion(parse))
            {
                continue;
            }

            if (!args.Contains("--server"))
            {
                args = [.. args, "--server", Nowhere];
            }

            int code;
            string err;
            try
            {
                (code, _, err) = await Run(args).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is not TimeoutException)
            {
                Assert.Fail($"kraken {string.Join(' ', args.Select(a => $"'{a}'"))} threw {ex}");
                throw;
            }

            Assert.True(code is 0 or 1 or 2, $"kraken {string.Join(' ', args)}: exit {code}\n{err}");
            Assert.DoesNotContain("Unhandled exception", err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
            ran++;
        }

        Assert.True(ran > 1000, $"only {ran} vectors ran");
    }

    [Fact]
    public void The_process_exits_2_not_134_on_what_used_to_crash_it()
    {
        foreach (var args in new[] { new[] { "--json" }, ["nodes", "list", "--bogus"], ["--timeout"] })
        {
            var (code, output) = Process.Run("dotnet", [Functional.DaemonProcess.KrakenDll, .. args]);
            Assert.True(code == 2, $"kraken {string.Join(' ', args)}: exit {code}\n{output}");
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        }

        var (exit, version) = Process.Run("dotnet", [Functional.DaemonProcess.KrakenDll, "--version"]);
        Assert.Equal(0, exit);
        Assert.StartsWith("kraken ", version, StringComparison.Ordinal);
        (exit, var help) = Process.Run("dotnet", [Functional.DaemonProcess.KrakenDll, "nodes", "list", "--help"]);
        Assert.Equal(0, exit);
        Assert.StartsWith("Usage: kraken nodes list", help, StringComparison.Ordinal);
    }

    [Fact]
    public void The_bash_completion_loads_and_completes_verbs_options_and_choices()
    {
        var (code, script) = Process.Run("dotnet", [Functional.DaemonProcess.KrakenDll, "completion", "bash"]);
        Assert.Equal(0, code);
        var file = Path.Combine(Path.GetTempPath(), $"kraken-completion-{Guid.NewGuid():N}.bash");
        File.WriteAllText(file, script + "\n");
        try
        {
            // COMP_* as bash sets them when Tab is pressed after the line; "kraken" runs the built kraken.dll.
            var test = $$"""
                kraken() { dotnet '{{Functional.DaemonProcess.KrakenDll}}' "$@"; }
                source '{{file}}'
                complete -p kraken
                comp() {
                    COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
                    read -ra COMP_WORDS <<< "$COMP_LINE"
                    [[ "$COMP_LINE" == *' ' ]] && COMP_WORDS+=('')
                    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                    _kraken_complete
                    echo "$1=>${COMPREPLY[*]}"
                }
                comp 'kraken nod'
                comp 'kraken nodes list -o '
                comp 'kraken power o'
                comp 'kraken nodes list --fi'
                """;
            var (exit, output) = Process.Run("bash", ["-c", test]);
            Assert.True(exit == 0, output);
            var lines = output.Split('\n');
            Assert.Contains("complete -o bashdefault -o default -F _kraken_complete kraken", lines);
            Assert.Contains("kraken nod=>node nodes", lines);
            Assert.Contains("kraken nodes list -o =>json table wide", lines);
            Assert.Contains("kraken power o=>off on ops", lines);
            Assert.Contains("kraken nodes list --fi=>--filter", lines);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task The_zsh_completion_asks_the_same_directive()
    {
        var zsh = await Run("completion", "zsh");
        Assert.Equal((0, string.Empty), (zsh.Code, zsh.Err));

        // An autoload file for $fpath and a script to source at once; either way it asks kraken's [suggest] directive.
        Assert.StartsWith("#compdef kraken\n", zsh.Out, StringComparison.Ordinal);
        Assert.All(["\"[suggest:${#words_before}]\"", "compdef _kraken kraken", "_kraken \"$@\""], part => Assert.Contains(part, zsh.Out, StringComparison.Ordinal));

        // What the script asks kraken for, answered in-process.
        var (_, suggested, _) = await Run("[suggest:15]", "nodes list --fi");
        Assert.Equal(["--filter"], suggested.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        (_, suggested, _) = await Run("[suggest:14]", "nodes list -o ");
        Assert.Equal(["json", "table", "wide"], suggested.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Docs_cli_md_is_generated_from_the_definitions()
    {
        var (code, generated, _) = await Run("cli-reference");
        Assert.Equal(0, code);
        var committed = await File.ReadAllTextAsync(Path.Combine(TestDaemon.RepoRoot(), "docs", "cli.md"));
        Assert.True(committed == generated, "docs/cli.md differs from the definitions; regenerate it: kraken cli-reference > docs/cli.md");
        foreach (var verb in AllCommands(CommandLine.Create()).Where(c => !c.Hidden && c.Subcommands.Count == 0 && !c.Parents.OfType<Command>().Any(p => p.Hidden)))
        {
            Assert.Contains($"### kraken {CliHelp.Path(verb)}\n", generated, StringComparison.Ordinal);
        }
    }
}
