// The client verbs' definitions: what each takes, its help, and the options every client verb shares.
using System.CommandLine;
using System.Globalization;

namespace Kraken.Daemon.Cli;

public static partial class CommandLine
{
    /// <summary>The words of <c>-o</c>: the API's JSON, a table for people, or a table with every column a verb has.</summary>
    internal static readonly string[] OutputFormats = ["table", "wide", "json"];

    private const string SelectionHelp = "Select nodes with positional ids or names, --id, --under and --filter (together: nodes matching all); --all is needed to act on every node.";

    private static void AddClientVerbs(RootCommand root)
    {
        var nodes = new Command("nodes", "Node lists.");
        nodes.Subcommands.Add(Client("list", "List nodes: id, name, parent, run and physical state (Cfg; Dsc with --dsc). -o wide adds arch and platform.",
            Filter(), Under(), Ids(), Dsc()));
        root.Subcommands.Add(nodes);

        var node = new Command("node", "One node's values.");
        node.Subcommands.Add(Client("get", "A node's Cfg and Dsc side by side, one URL a line (with -o json: one view, --dsc for Dsc).", Id(), Dsc()));
        node.Subcommands.Add(Client("set", "Set Cfg values of a node atomically; an empty VALUE unsets (PATCH /api/v1/cfg/nodes/ID).",
            Id(), CliOptions.Words("URL=VALUE", "the state URL and its new value, e.g. /PhysState=POWER_ON")));
        node.Subcommands.Add(Client("delete", "Delete a node from Cfg.", Id()));
        root.Subcommands.Add(node);

        var bulk = new Command("bulk", "Changes to many nodes at once.");
        bulk.Subcommands.Add(Client("set", "Set Cfg values on every selected node in one request. " + SelectionHelp,
            CliOptions.Words("URL=VALUE", "the state URL and its new value"), Under(), Ids(), Filter(), All()));
        root.Subcommands.Add(bulk);

        root.Subcommands.Add(Client("import", "Load a state file (JSON, this kraken's or the original's) into Cfg.",
            CliOptions.PathWord("FILE", "the state file"),
            CliOptions.Choice("--mode", "upsert (default): create or replace nodes; create: fail on a node that exists", ["upsert", "create"])));
        root.Subcommands.Add(Client("export", "Write Cfg (or Dsc) as a state file, to standard output or --file.",
            Dsc(), CliOptions.Path("--file", "FILE", "write to FILE instead of standard output (before -o took the name: --output FILE)")));
        root.Subcommands.Add(Client("graph", "The mutation graph the modules declare.", CliOptions.Flag("--dot", "as Graphviz dot")));
        root.Subcommands.Add(Client("plan", "A node's reconcile state and its planned path of mutations.", Id()));
        root.Subcommands.Add(Client("freeze", "Stop dispatching mutations (cluster-wide when run against the root)."));
        root.Subcommands.Add(Client("thaw", "Resume dispatching mutations."));
        root.Subcommands.Add(Client("tree", "This daemon's adjacencies: parent, children, their state, and nodes no live child reports."));
        root.Subcommands.Add(Client("watch", "Follow the event stream: one line per state change or mutation event, until Ctrl-C or --count events.",
            CliOptions.Many("--node", "ID", "only events of this node (repeatable)"),
            CliOptions.Text("--url", "PREFIX", "only state changes under this URL prefix"),
            CliOptions.Choice("--type", "only state or only mutation events", ["state", "mutation"]),
            CliOptions.Choice("--view", "only Cfg or only Dsc changes", ["cfg", "dsc"]),
            CliOptions.Number("--count", "N", "stop after N events", 1)));

        var power = new Command("power", "Bulk power actions and their outcome; live power status from the BMCs.");
        foreach (var action in Verbs.PowerActions)
        {
            power.Subcommands.Add(Client(action, $"Power {action} the selected nodes (a bulk operation). " + SelectionHelp,
                Targets(), Under(), Ids(), Filter(), All(),
                CliOptions.Flag("--wait", "wait for the operation and print its summary (exit 1 if any node failed)"),
                CliOptions.Flag("--nodes", "with --wait: list every node, not only those that did not succeed"),
                CliOptions.Flag("--no-cfg", "out of band: leave Cfg as it is (the engine restores Cfg where it differs; freeze it first)"),
                CliOptions.Flag("--set-cfg", "also set Cfg for soft (the other actions set it by default at the root; a child refuses)"),
                CliOptions.Duration("--call-timeout", $"the longest one BMC call may take: {CliOptions.DurationForms}"),
                CliOptions.Number("--retries", "N", "further calls after a transient failure", 0)));
        }

        power.Subcommands.Add(Client("status", "Ask the BMCs of the selected nodes for their power state (needs the token). " + SelectionHelp,
            Targets(), Under(), Ids(), Filter(), All()));
        power.Subcommands.Add(Client("ops", "The bulk power operations this daemon ran, or one operation's summary.",
            CliOptions.Word("ID", "an operation id", optional: true),
            CliOptions.Flag("--nodes", "list every node of the operation, not only those that did not succeed")));
        root.Subcommands.Add(power);
    }

    /// <summary>A client verb: its own arguments and options, the options every client verb takes, and the action that runs it.</summary>
    private static Command Client(string name, string description, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Option option:
                    command.Options.Add(option);
                    break;
                default:
                    throw new ArgumentException($"not an option or argument: {symbol.Name}", nameof(symbols));
            }
        }

        command.Options.Add(CliOptions.Text("--server", "URL", $"the daemon's API (env KRAKEN_SERVER; default {DefaultServer})"));
        command.Options.Add(CliOptions.Text("--token", "TOKEN", "the API token, needed for writes (env KRAKEN_TOKEN)"));
        command.Options.Add(CliOptions.Path("--token-file", "FILE", "read the API token from the first line of FILE (env KRAKEN_TOKEN_FILE)"));
        command.Options.Add(CliOptions.Choice("--output", "table for people (default), wide: the table with every column the verb has, json: the API's JSON", OutputFormats, "-o"));
        command.Options.Add(CliOptions.Flag("--json", "the same as -o json"));
        command.Options.Add(CliOptions.Duration("--timeout", $"how long to wait for the daemon's answer (default 30 s): {CliOptions.DurationForms}"));
        command.SetAction(RunClientAsync);
        return command;
    }

    private static async Task<int> RunClientAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var args = Arguments.From(parse);
        var output = args.Option("--output");
        if (args.Flag("--json") && output is not (null or "json"))
        {
            throw new CliException($"--json and -o {output} disagree; give one", 2);
        }

        using var client = CreateClient(args);
        var verb = new Verbs(client, args, parse.InvocationConfiguration.Output, args.Flag("--json") || output == "json");
        await verb.RunAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static ApiClient CreateClient(Arguments args)
    {
        var serverText = args.Option("--server") ?? Environment.GetEnvironmentVariable("KRAKEN_SERVER") ?? DefaultServer;
        if (!Uri.TryCreate(serverText, UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https"))
        {
            throw new CliException($"--server '{serverText}' is not an http(s) URL", 2);
        }

        var token = args.Option("--token") ?? Environment.GetEnvironmentVariable("KRAKEN_TOKEN");
        var tokenFile = args.Option("--token-file") ?? Environment.GetEnvironmentVariable("KRAKEN_TOKEN_FILE");
        if (token is null && tokenFile is not null)
        {
            try
            {
                token = File.ReadLines(tokenFile).FirstOrDefault()?.Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read the token file '{tokenFile}': {ex.Message}", 2);
            }
        }

        // A header cannot carry these; say so rather than fail inside HttpClient.
        if (token is not null && (token.Length == 0 || token.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))))
        {
            throw new CliException($"the API token{(args.Option("--token") is null && tokenFile is not null ? $" in '{tokenFile}'" : string.Empty)} is empty or holds spaces or control characters", 2);
        }

        return new ApiClient(server, token, args.Duration("--timeout") ?? TimeSpan.FromSeconds(30));
    }

    private static Argument<string> Id() => CliOptions.Word("ID", "a node id (UUID)");

    private static Argument<string[]> Targets() => CliOptions.Words("ID|NAME", "node ids or Cfg node names", optional: true);

    private static Option<string[]> Filter() => CliOptions.Many("--filter", "URL=VALUE", "only nodes whose value at URL is VALUE (repeatable; all must hold)");

    private static Option<string> Under() => CliOptions.Text("--under", "ID", "only nodes in the subtree below ID");

    private static Option<string[]> Ids() => CliOptions.Many("--id", "ID", "this node (repeatable)");

    private static Option<bool> Dsc() => CliOptions.Flag("--dsc", "the discovered state (Dsc) instead of Cfg");

    private static Option<bool> All() => CliOptions.Flag("--all", "allow a selection of every node");

    /// <summary>"5" for 5 seconds, as the API's JSON numbers of seconds are written.</summary>
    internal static string Seconds(TimeSpan value) => value.TotalSeconds.ToString(CultureInfo.InvariantCulture);
}
