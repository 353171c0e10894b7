// The command line of kraken-sim: verbs, options, and clear errors for bad input.
using System.Globalization;
using Kraken.Net.Execution;
using Kraken.Sim.Cluster;
using Kraken.Sim.Scenarios;
using Kraken.Tree.Sync;

namespace Kraken.Sim.Cli;

/// <summary>A parsed command line: the verb, the run's settings, the scenario and the outputs.</summary>
internal sealed record SimCommand
{
    public const string Usage = """
        usage: kraken-sim                                    a 10,000-node cold boot and its summary
               kraken-sim show [STATE-FILE]                  print the tree of a state file (default: the example)
               kraken-sim graph [--dot]                      the mutation graph every simulated parent runs
               kraken-sim [run] [--scenario NAME] [OPTIONS]  coldboot | change | kill-parent | partition
               kraken-sim sweep [--hello LIST] [--dead-mult LIST] [--fanout LIST] [OPTIONS]
        topology:  --nodes N  --tiers T  --fanout F | F1,F2,..  --export-state FILE
        protocol:  --profile kraken|kraken-go  --hello DURATION  --dead DURATION  --max-dead DURATION  --compare
        network:   --latency D  --jitter D  --loss P  --dup P  --reorder P  --reorder-delay D
        hardware:  --power-on DIST  --power-off DIST  --power-fail P  --power-concurrency N  --power-poll D
                   --pxe DIST  --fetch DIST  --kernel DIST  --dhcp real|delay
        scenario:  --warm | --cold  --kill K  --revive D  --partition-for D  --partition-at D
                   --partition-change  --settle D  --limit D
        run:       --seed N  --realtime  --json FILE  --plot FILE.svg  --quiet
        (durations: 250ms, 5s, 2m; distributions: 5s, uniform:2s..8s, normal:30s,5s; see docs/simulator.md)
        """;

    public string Verb { get; init; } = "run";

    public SimSettings Settings { get; init; } = new();

    public ScenarioOptions Scenario { get; init; } = new();

    public string? Json { get; init; }

    public string? Plot { get; init; }

    public string? ExportState { get; init; }

    /// <summary>Run the scenario a second time with the other profile and report both.</summary>
    public bool Compare { get; init; }

    public bool Quiet { get; init; }

    public IReadOnlyList<TimeSpan> SweepHello { get; init; } = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)];

    public IReadOnlyList<int> SweepDeadMult { get; init; } = [3, 4];

    public IReadOnlyList<int> SweepFanout { get; init; } = [16, 64, 256];

    /// <summary>The main job: a 10,000-node cold boot in three tiers.</summary>
    public static SimCommand Default { get; } = new() { Settings = new SimSettings { Nodes = 10_000, Tiers = 2 } };

    /// <summary>Parses <c>run</c> and <c>sweep</c> command lines; throws <see cref="ArgumentException"/> naming the bad argument.</summary>
    public static SimCommand Parse(IReadOnlyList<string> args)
    {
        if (args.Count > 0 && args[0].StartsWith("--", StringComparison.Ordinal))
        {
            // Options without a verb: a run.
            args = ["run", .. args];
        }

        if (args.Count == 0 || args[0] is not ("run" or "sweep"))
        {
            throw new ArgumentException($"unknown command '{(args.Count == 0 ? string.Empty : args[0])}'.");
        }

        var verb = args[0];
        var s = new SimSettings();
        var o = new ScenarioOptions();
        var c = new SimCommand { Verb = verb };
        var sweepFanoutSet = false;
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"{name} needs a value.");
                }

                return args[++i];
            }

            switch (name)
            {
                case "--scenario":
                    o = o with { Kind = ScenarioOptions.Parse(Value()) };
                    break;
                case "--nodes":
                    s = s with { Nodes = Int(name, Value(), 1, 10_000_000) };
                    break;
                case "--tiers":
                    s = s with { Tiers = Int(name, Value(), 1, 8) };
                    break;
                case "--fanout":
                    {
                        var list = Ints(name, Value());
                        if (verb == "sweep")
                        {
                            c = c with { SweepFanout = list };
                            sweepFanoutSet = true;
                        }
                        else
                        {
                            s = s with { Fanout = list };
                        }

                        break;
                    }

                case "--seed":
                    s = s with { Seed = Int(name, Value(), int.MinValue, int.MaxValue) };
                    break;
                case "--profile":
                    s = s with
                    {
                        Profile = Value() switch
                        {
                            "kraken" => SyncProfile.Kraken,
                            "kraken-go" => SyncProfile.KrakenGo,
                            var p => throw new ArgumentException($"--profile: unknown profile '{p}'; known: kraken, kraken-go."),
                        },
                    };
                    break;
                case "--hello":
                    if (verb == "sweep")
                    {
                        c = c with { SweepHello = [.. Value().Split(',').Select(v => Durations.Parse(v, name))] };
                    }
                    else
                    {
                        s = s with { Hello = Durations.Parse(Value(), name) };
                    }

                    break;
                case "--dead":
                    s = s with { Dead = Durations.Parse(Value(), name) };
                    break;
                case "--max-dead":
                    s = s with { MaxDead = Durations.Parse(Value(), name) };
                    break;
                case "--dead-mult":
                    c = c with { SweepDeadMult = Ints(name, Value()) };
                    break;
                case "--latency":
                    s = s with { Latency = Durations.Parse(Value(), name) };
                    break;
                case "--jitter":
                    s = s with { Jitter = Durations.Parse(Value(), name) };
                    break;
                case "--dhcp":
                    s = s with
                    {
                        Dhcp = Value() switch
                        {
                            "real" => DhcpMode.Real,
                            "delay" => DhcpMode.Delay,
                            var v => throw new ArgumentException($"--dhcp must be real or delay (was '{v}')."),
                        },
                    };
                    break;
                case "--loss":
                    s = s with { Loss = Probability(name, Value()) };
                    break;
                case "--dup":
                    s = s with { Duplicate = Probability(name, Value()) };
                    break;
                case "--reorder":
                    s = s with { Reorder = Probability(name, Value()) };
                    break;
                case "--reorder-delay":
                    s = s with { ReorderDelay = Durations.Parse(Value(), name) };
                    break;
                case "--power-on":
                    s = s with { PowerOn = DelayText.Parse(Value(), name) };
                    break;
                case "--power-off":
                    s = s with { PowerOff = DelayText.Parse(Value(), name) };
                    break;
                case "--power-fail":
                    s = s with { PowerFailure = Probability(name, Value()) };
                    break;
                case "--power-concurrency":
                    s = s with { PowerConcurrency = Int(name, Value(), 1, 1_000_000) };
                    break;
                case "--power-poll":
                    s = s with { PowerPoll = Durations.Parse(Value(), name) };
                    break;
                case "--pxe":
                    s = s with { Pxe = DelayText.Parse(Value(), name) };
                    break;
                case "--kernel":
                    s = s with { Kernel = DelayText.Parse(Value(), name) };
                    break;
                case "--fetch":
                    s = s with { Fetch = DelayText.Parse(Value(), name) };
                    break;
                case "--limit":
                    s = s with { Limit = Durations.Parse(Value(), name) };
                    break;
                case "--realtime":
                    s = s with { Realtime = true };
                    break;
                case "--warm":
                    o = o with { Warm = true };
                    break;
                case "--cold":
                    o = o with { Warm = false };
                    break;
                case "--kill":
                    o = o with { Kill = Int(name, Value(), 1, 1_000_000) };
                    break;
                case "--revive":
                    o = o with { Revive = Durations.Parse(Value(), name) };
                    break;
                case "--partition-for":
                    o = o with { PartitionFor = Durations.Parse(Value(), name) };
                    break;
                case "--partition-at":
                    o = o with { PartitionAt = Durations.Parse(Value(), name) };
                    break;
                case "--partition-change":
                    o = o with { PartitionChange = true };
                    break;
                case "--settle":
                    o = o with { Settle = Durations.Parse(Value(), name) };
                    break;
                case "--json":
                    c = c with { Json = Value() };
                    break;
                case "--plot":
                    c = c with { Plot = Value() };
                    if (!c.Plot.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new ArgumentException($"--plot: only SVG is written; name the file *.svg (was '{c.Plot}').");
                    }

                    break;
                case "--export-state":
                    c = c with { ExportState = Value() };
                    break;
                case "--compare":
                    c = c with { Compare = true };
                    break;
                case "--quiet":
                    c = c with { Quiet = true };
                    break;
                default:
                    throw new ArgumentException($"unknown option '{name}'.");
            }
        }

        if (verb == "sweep" && !sweepFanoutSet && s.Fanout.Count > 0)
        {
            c = c with { SweepFanout = s.Fanout };
        }

        s.Validate();
        if (verb == "run")
        {
            o.Validate();
        }

        return c with { Settings = s, Scenario = o };
    }

    private static int Int(string option, string text, int min, int max) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? v
            : throw new ArgumentException($"{option}: '{text}' is not a whole number from {min} to {max}.");

    private static int[] Ints(string option, string text) => [.. text.Split(',').Select(p => Int(option, p, 1, 10_000_000))];

    private static double Probability(string option, string text)
    {
        var t = text.EndsWith('%') ? text[..^1] : text;
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
        {
            throw new ArgumentException($"{option}: '{text}' is not a probability (0.01 or 1%).");
        }

        v = text.EndsWith('%') ? v / 100 : v;
        return v is >= 0 and <= 1 ? v : throw new ArgumentException($"{option}: {text} is not in [0, 1].");
    }
}
