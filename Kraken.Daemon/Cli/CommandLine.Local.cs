// The verbs that work on this machine: serve, init, store, image, lab, selftest; and the shell's: completion, help.
using System.CommandLine;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Lab;

namespace Kraken.Daemon.Cli;

public static partial class CommandLine
{
    private static void AddLocalVerbs(RootCommand root)
    {
        var serve = new Command("serve", """
            Run the daemon until SIGTERM or Ctrl-C (exit 0). Configuration: the file, then KRAKEN_<Section>__<Key>
            environment variables, then --Section:Key=value words after the options (--Api:Url=http://0.0.0.0:3141),
            later ones winning. A bad value stops start-up with exit 2 naming its key (docs/daemon.md).
            """.ReplaceLineEndings(" "))
        {
            // The --Section:Key=value overrides are every word the verb does not define.
            TreatUnmatchedTokensAsErrors = false,
        };
        serve.Options.Add(CliOptions.Path("--config", "FILE", "the JSON configuration file (kraken init writes one)"));
        serve.Options.Add(CliOptions.Flag("--boot", "run the daemon of a node booted over the network: identity, uplink and parents from the kraken.* kernel arguments, what it serves from the Cfg its parent sends"));
        serve.Options.Add(CliOptions.Path("--cmdline", "FILE", "with --boot: read the kernel arguments from FILE instead of /proc/cmdline"));
        serve.Options.Add(CliOptions.Flag("--dev", "a root to try things on: on loopback, the example cluster, simulated power, a generated token; prints the export line for the client verbs (docs/daemon.md, \"Dev mode\")"));
        serve.Options.Add(CliOptions.Path("--dev-dir", "DIR", "with --dev: keep the dev root's files in DIR (default: a temporary directory removed at exit)"));
        serve.SetAction((parse, _) => ServeAsync(Arguments.From(parse), parse.UnmatchedTokens, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        root.Subcommands.Add(serve);

        var init = new Command("init", """
            Write a configuration for a root, tier-1 or leaf daemon with a new random API token and join secret (files
            mode 0600), so that 'kraken serve --config DIR/kraken.json' starts. Never overwrites: if any file it would
            write exists, it names them and writes nothing (exit 1).
            """.ReplaceLineEndings(" "));
        var role = CliOptions.Choice("--role", "the daemon's place in the tree", Init.Roles);
        role.Required = true;
        init.Options.Add(role);
        init.Options.Add(CliOptions.Path("--dir", "DIR", $"where to write kraken.json, api-token and join-secret, and the root's cfg.db (default {Init.DefaultDirectory}, the store in {Init.DefaultStoreDirectory})"));
        init.Options.Add(CliOptions.Text("--node-id", "ID", "this daemon's node id (default: a new random one); a child's must be its node's id in the root's Cfg"));
        init.Options.Add(CliOptions.Many("--parent", "ADDRESS:PORT", "a child's parent, primary first (repeatable; default the example's)"));
        init.SetAction(parse => Init.Run(Arguments.From(parse), parse.InvocationConfiguration.Output));
        root.Subcommands.Add(init);

        var store = new Command("store", "Offline work on a root's Cfg database (the daemon stopped).");
        store.Subcommands.Add(Local("check", "Check the database: SQLite's integrity check, the tables, every record; exit 0 healthy, 1 damaged with what is wrong.",
            StorePath(), StoreConfig()));
        store.Subcommands.Add(Local("repair", "Clear stored values that break a value rule (kept from before the rule existed), after copying the database.",
            StorePath(), StoreConfig(), CliOptions.Flag("--dry-run", "say what would be cleared, change nothing")));
        store.Subcommands.Add(Local("rebuild", "Write a new database from state files: kraken export of the root, or of its children (docs/daemon.md).",
            StorePath(), CliOptions.Text("--root", "ID", "the root's node id (default: the configuration's, else the example root's)"),
            CliOptions.Paths("--from", "EXPORT", "a state file to take nodes from, best first (repeatable)")));
        root.Subcommands.Add(store);

        var image = new Command("image", "The network boot image (docs/image.md).");
        image.Subcommands.Add(Local("build", "Build vmlinuz, initrd.img and image.json for network-booted nodes: the native kraken, busybox and the kernel's modules.",
            CliOptions.Path("--dir", "DIR", "where to write the image (--output is the old name)", "--output"),
            CliOptions.Path("--cache", "DIR", $"downloads and the native build, kept between builds (default {Image.ImageBuilder.DefaultCache})"),
            CliOptions.Text("--kernel-package", "NAME", "the Debian kernel package to take the kernel from"),
            CliOptions.Path("--kraken", "PATH", "a native kraken to put into the image instead of building one")));
        root.Subcommands.Add(image);

        var lab = new Command("lab", "A virtual cluster of qemu VMs in network namespaces (root only; docs/lab.md).");
        var dir = $"the lab's directory (default {LabCommand.DefaultDirectory})";
        lab.Subcommands.Add(Local("up", "Build the lab and start its root; with --wait, until every node is SYNC.",
            CliOptions.Text("--tier1", "N", "tier-1 nodes (default 1)"),
            CliOptions.Text("--leaves", "M", "leaves under each tier-1 (default 1)"),
            CliOptions.Path("--dir", "DIR", dir),
            CliOptions.Path("--image", "DIR", "a boot image to use (default: build one with kraken image build)"),
            CliOptions.Flag("--backup", "give every leaf a backup parent"),
            CliOptions.Flag("--wait", "wait until every node is SYNC"),
            CliOptions.Text("--timeout", "DURATION", $"with --wait: how long (default 900 s): {CliOptions.DurationForms}"),
            CliOptions.Flag("--keep", "keep what was made when up fails")));
        lab.Subcommands.Add(Local("status", "The lab's topology, processes and each node's states.", CliOptions.Path("--dir", "DIR", dir)));
        lab.Subcommands.Add(Local("down", "Remove everything the lab made.", CliOptions.Path("--dir", "DIR", dir)));
        root.Subcommands.Add(lab);

        var selftest = new Command("selftest", "Checks for images and packagers.") { Hidden = true };
        selftest.Subcommands.Add(Local("crypto", "Prove the cryptography kraken uses works on this machine (OpenSSL loaded, known answers)."));
        root.Subcommands.Add(selftest);

        var version = new Command("version", "The same as --version.") { Hidden = true };
        version.SetAction(parse => parse.InvocationConfiguration.Output.WriteLine(BuildInfo.Line));
        root.Subcommands.Add(version);
    }

    private static void AddShellVerbs(RootCommand root)
    {
        var completion = new Command("completion", "Print a completion script for bash or zsh: source <(kraken completion bash).");
        var shell = new Argument<string>("SHELL") { Description = CliOptions.Or(Completion.Shells) };
        shell.CompletionSources.Add(Completion.Shells);
        shell.Validators.Add(r =>
        {
            if (r.Tokens is [var t] && !Completion.Shells.Contains(t.Value, StringComparer.Ordinal))
            {
                r.AddError($"no completion for '{t.Value}'; use {CliOptions.Or(Completion.Shells)}");
            }
        });
        completion.Arguments.Add(shell);
        completion.SetAction(parse => parse.InvocationConfiguration.Output.Write(Completion.Script(parse.GetValue<string>("SHELL")!)));
        root.Subcommands.Add(completion);

        var help = new Command("help", "Help for a verb: kraken help nodes list (the same as kraken nodes list --help).");
        help.Arguments.Add(CliOptions.Words("VERB", "the verb", optional: true));
        help.SetAction(parse => Help(parse, Arguments.From(parse).Positional.Skip(1).ToList()));
        root.Subcommands.Add(help);

        var reference = new Command("cli-reference", "Print docs/cli.md: every verb and option, from these definitions.") { Hidden = true };
        reference.SetAction(parse => parse.InvocationConfiguration.Output.Write(CliHelp.Markdown(Create())));
        root.Subcommands.Add(reference);
    }

    /// <summary>A verb run on this machine: its options, and the action that hands them to its subsystem.</summary>
    private static Command Local(string name, string description, params Option[] options)
    {
        var command = new Command(name, description);
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => RunLocalAsync(parse, ct));
        return command;
    }

    private static Task<int> RunLocalAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var args = Arguments.From(parse);
        var (stdout, stderr) = (parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        return args.Positional[0] switch
        {
            "store" => Storage.StoreCommand.RunAsync(args, stdout, stderr),
            "image" => Image.ImageCommand.RunAsync(args, stdout, stderr, cancellationToken),
            "lab" => LabCommand.RunAsync(args, stdout, stderr, cancellationToken),
            "selftest" => SelfTest.RunAsync(stdout),
            var verb => throw new InvalidOperationException($"no local verb '{verb}'"),
        };
    }

    private static int Help(ParseResult parse, IReadOnlyList<string> verb)
    {
        Command command = parse.RootCommandResult.Command;
        foreach (var word in verb)
        {
            command = command.Subcommands.FirstOrDefault(c => c.Name == word)
                ?? throw new CliException($"no verb '{string.Join(' ', verb)}'", 2);
        }

        parse.InvocationConfiguration.Output.Write(CliHelp.Text(command));
        return 0;
    }

    private static Option<string> StorePath() => CliOptions.Path("--path", "FILE", "the Cfg database (SQLite)");

    private static Option<string> StoreConfig() => CliOptions.Path("--config", "FILE", "a root's configuration: its Store:Path");

    private static Task<int> ServeAsync(Arguments args, IReadOnlyList<string> overrides, TextWriter stdout, TextWriter stderr)
    {
        var config = args.Option("--config");
        var cmdline = args.Option("--cmdline");
        var boot = args.Flag("--boot");
        var dev = args.Flag("--dev");
        var devDir = args.Option("--dev-dir");
        if (dev || devDir is not null)
        {
            if (!dev || boot || config is not null || cmdline is not null)
            {
                stderr.WriteLine("kraken serve: --dev-dir goes with --dev, and --dev takes no --config, --boot or --cmdline");
                return Task.FromResult(2);
            }

            return DevMode.ServeAsync(devDir, [.. overrides], stdout, stderr);
        }

        if (boot && config is not null)
        {
            stderr.WriteLine("kraken serve: --boot takes no --config: a booted node's configuration comes from its kernel arguments and its Cfg");
            return Task.FromResult(2);
        }

        if (!boot && cmdline is not null)
        {
            stderr.WriteLine("kraken serve: --cmdline goes with --boot");
            return Task.FromResult(2);
        }

        return boot ? DaemonHost.ServeBootAsync(cmdline, [.. overrides], stderr) : DaemonHost.ServeAsync(config, [.. overrides], stderr);
    }
}
