// "kraken VERB ...": parses global options and dispatches to serve, image build, lab, or a client verb.
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Lab;

namespace Kraken.Daemon.Cli;

/// <summary>The parsed arguments of one invocation.</summary>
internal sealed class Arguments
{
    private readonly List<string> _positional = [];
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    /// <summary>Options that take a value; everything else starting with "--" is a flag.</summary>
    private static readonly HashSet<string> s_valued =
    [
        "--server", "--token", "--token-file", "--config", "--filter", "--under", "--id", "--node", "--url",
        "--type", "--view", "--count", "--output", "--mode", "--timeout", "--call-timeout", "--retries",
        "--cache", "--kernel-package", "--kraken", "--path", "--from", "--root",
    ];

    public IReadOnlyList<string> Positional => _positional;

    public static Arguments Parse(IReadOnlyList<string> args)
    {
        var result = new Arguments();
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var eq = a.IndexOf('=', StringComparison.Ordinal);
                var name = eq > 0 ? a[..eq] : a;
                if (s_valued.Contains(name))
                {
                    string value;
                    if (eq > 0)
                    {
                        value = a[(eq + 1)..];
                    }
                    else if (i + 1 < args.Count)
                    {
                        value = args[++i];
                    }
                    else
                    {
                        throw new CliException($"{name} needs a value", 2);
                    }

                    if (!result._options.TryGetValue(name, out var list))
                    {
                        result._options[name] = list = [];
                    }

                    list.Add(value);
                }
                else
                {
                    result._flags.Add(name);
                }
            }
            else
            {
                result._positional.Add(a);
            }
        }

        return result;
    }

    public string? Option(string name) => _options.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> Options(string name) => _options.TryGetValue(name, out var v) ? v : [];

    public bool Flag(string name) => _flags.Contains(name);

    /// <summary>Fails on any option or flag not in <paramref name="allowed"/> or the client options every verb takes.</summary>
    public void Allow(params string[] allowed) => AllowOnly([.. allowed, "--server", "--token", "--token-file", "--json", "--timeout"]);

    /// <summary>Fails on any option or flag not in <paramref name="allowed"/>.</summary>
    public void AllowOnly(params string[] allowed)
    {
        var ok = new HashSet<string>(allowed, StringComparer.Ordinal);
        foreach (var name in _options.Keys.Concat(_flags))
        {
            if (!ok.Contains(name))
            {
                throw new CliException($"unknown option {name}", 2);
            }
        }
    }
}

public static partial class CommandLine
{
    public const string DefaultServer = "http://127.0.0.1:3141";

    public const string Usage = """
        usage: kraken VERB [options]

        Daemon:
          serve --config FILE [--Section:Key=value ...]   run the daemon
          serve --dev [--dev-dir DIR]                      a root to try things on: on loopback, the example cluster,
                                                           simulated power, a generated token; prints the export line
                                                           for the client verbs; its files in a temporary directory
                                                           (removed at exit) or DIR (kept)
          serve --boot [--cmdline FILE]                    run the daemon of a node booted over the network:
                                                           identity, uplink and parents from the kraken.* kernel
                                                           arguments, what it serves from the Cfg its parent sends
          image build --output DIR [--cache DIR] [--kernel-package NAME] [--kraken PATH]
                                               build the network boot image (vmlinuz, initrd.img, image.json);
                                               cache default /var/cache/kraken/image, see docs/image.md
          store check --path FILE | --config FILE
                                               check a root's Cfg database offline (integrity, every record);
                                               exit 0 healthy, 1 damaged with what is wrong
          store repair --path FILE | --config FILE [--dry-run]
                                               clear stored values that break a value rule (kept from before the
                                               rule existed), after copying the database; daemon stopped
          store rebuild --path FILE [--root ID] --from EXPORT [--from EXPORT]...
                                               write a new Cfg database from state files (kraken export of the
                                               root or of its children), docs/daemon.md
          --version                            print the version and how this kraken was built (aot, single-file, jit)

        Lab (a virtual cluster of qemu VMs in network namespaces; root only; docs/lab.md):
          lab up [--tier1 N] [--leaves M] [--dir DIR] [--image DIR] [--backup] [--wait] [--timeout S] [--keep]
                                               build it (defaults: 1 tier-1, 1 leaf each, DIR /var/lib/kraken-lab/default);
                                               --wait: until every node is SYNC (timeout 900 s)
          lab status [--dir DIR]               topology, processes and each node's states
          lab down [--dir DIR]                 remove everything the lab made

        Client verbs (talk to a daemon's API):
          nodes list [--filter URL=VALUE]... [--under ID] [--id ID]... [--dsc]
          node get ID [--dsc]                  both views side by side (or one with --json)
          node set ID URL=VALUE...             set Cfg values atomically (VALUE empty unsets)
          node delete ID
          bulk set URL=VALUE... [--under ID] [--id ID]... [--filter URL=VALUE]... [--all]
          import FILE [--mode upsert|create]   load a state file into Cfg
          export [--dsc] [--output FILE]       write Cfg (or Dsc) as a state file
          graph [--dot]                        the mutation graph
          plan ID                              a node's reconcile state and plan
          freeze | thaw                        stop or resume dispatching mutations
          tree                                 this daemon's adjacencies
          watch [--node ID]... [--url PREFIX] [--type state|mutation] [--view cfg|dsc] [--count N]
          power on|off|cycle|reset|soft [ID|NAME]... [--under ID] [--id ID]... [--filter URL=VALUE]... [--all]
                [--wait] [--nodes] [--no-cfg|--set-cfg] [--call-timeout S] [--retries N]
                                               bulk power action; --wait prints the summary (exit 1 if any node failed)
          power status [ID|NAME]... [--under ID] [--filter URL=VALUE]... [--all]   ask the BMCs
          power ops [ID] [--nodes]             bulk power operations, or one's summary

        Options: --server URL (env KRAKEN_SERVER, default http://127.0.0.1:3141)
                 --token T | --token-file F (env KRAKEN_TOKEN, KRAKEN_TOKEN_FILE); needed for writes
                 --json (machine-readable output), --timeout SECONDS (default 30)
        """;

    /// <summary>Runs one invocation; the process exit code (0 ok, 1 failed, 2 bad usage).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            await (args.Length == 0 ? stderr : stdout).WriteLineAsync(Usage).ConfigureAwait(false);
            return args.Length == 0 ? 2 : 0;
        }

        switch (args[0])
        {
            case "serve":
                return await ServeAsync(args[1..], stdout, stderr).ConfigureAwait(false);
            case "image":
                return await Image.ImageCommand.RunAsync(args[1..], stdout, stderr, cancellationToken).ConfigureAwait(false);
            case "--version" or "version":
                await stdout.WriteLineAsync(BuildInfo.Line).ConfigureAwait(false);
                return 0;
            case "store":
                return await Storage.StoreCommand.RunAsync(args[1..], stdout, stderr).ConfigureAwait(false);
            case "selftest":
                return await SelfTest.RunAsync(args[1..], stdout, stderr).ConfigureAwait(false);
            default:
                break;
        }

        if (args[0] == "lab")
        {
            return await LabCommand.RunAsync(args[1..], stdout, stderr, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var parsed = Arguments.Parse(args);
            using var client = CreateClient(parsed);
            var verb = new Verbs(client, parsed, stdout, parsed.Flag("--json"));
            await verb.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (CliException ex)
        {
            await stderr.WriteLineAsync($"kraken: {ex.Message}").ConfigureAwait(false);
            if (ex.ExitCode == 2)
            {
                await stderr.WriteLineAsync("run 'kraken help' for usage").ConfigureAwait(false);
            }

            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
    }

    private static Task<int> ServeAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? config = null;
        string? cmdline = null;
        string? devDir = null;
        var boot = false;
        var dev = false;
        var overrides = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Length)
            {
                config = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                config = args[i]["--config=".Length..];
            }
            else if (args[i] == "--boot")
            {
                boot = true;
            }
            else if (args[i] == "--dev")
            {
                dev = true;
            }
            else if (args[i] == "--dev-dir")
            {
                if (i + 1 == args.Length)
                {
                    stderr.WriteLine("kraken serve: --dev-dir needs a directory");
                    return Task.FromResult(2);
                }

                devDir = args[++i];
            }
            else if (args[i].StartsWith("--dev-dir=", StringComparison.Ordinal))
            {
                devDir = args[i]["--dev-dir=".Length..];
            }
            else if (args[i] == "--cmdline" && i + 1 < args.Length)
            {
                cmdline = args[++i];
            }
            else if (args[i].StartsWith("--cmdline=", StringComparison.Ordinal))
            {
                cmdline = args[i]["--cmdline=".Length..];
            }
            else
            {
                overrides.Add(args[i]);
            }
        }

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

        var timeoutText = args.Option("--timeout");
        var timeout = TimeSpan.FromSeconds(30);
        if (timeoutText is not null)
        {
            timeout = double.TryParse(timeoutText, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
                ? TimeSpan.FromSeconds(s)
                : throw new CliException($"--timeout '{timeoutText}' is not a positive number of seconds", 2);
        }

        return new ApiClient(server, token, timeout);
    }
}
