// The human summary of a run: settings, convergence percentiles, per-tier figures, traffic and cost.
using System.Globalization;

namespace Kraken.Sim.Reports;

internal static class SummaryTable
{
    private static readonly CultureInfo s_ci = CultureInfo.InvariantCulture;

    public static void Write(TextWriter w, SimResult r)
    {
        w.WriteLine(string.Create(s_ci, $"Scenario {r.Scenario}, profile {r.Profile}, seed {r.Seed}: {r.Nodes:N0} nodes below the root in {r.TierCounts.Length} tier(s) ({string.Join(" + ", r.TierCounts.Select(c => c.ToString("N0", s_ci)))}), {(r.Converged ? "converged" : "NOT converged")}"));
        w.WriteLine("  " + string.Join("  ", r.Settings.Select(kv => $"{kv.Key}={kv.Value}")));
        w.WriteLine();
        Table(w, ["SYNC at root", "time"], r.SyncTimes.Select(x => new[] { Percent(x.Fraction), Seconds(x.Time) }));
        w.WriteLine();
        Table(w, ["tier", "nodes", "all SYNC", "messages sent", "bytes sent", "B/node/s"],
            r.Tiers.Select(t => new[]
            {
                t.Tier == 0 ? "root" : t.Tier.ToString(s_ci),
                t.Nodes.ToString("N0", s_ci),
                t.Tier == 0 ? "-" : Seconds(t.AllSync),
                t.Messages.ToString("N0", s_ci),
                Bytes(t.Bytes),
                r.Simulated.TotalSeconds > 0 ? (t.Bytes / (double)t.Nodes / r.Simulated.TotalSeconds).ToString("N1", s_ci) : "-",
            }));
        if (r.Figures.Count > 0)
        {
            w.WriteLine();
            Table(w, ["scenario figure", "value"], r.Figures.Select(f => new[] { f.Name, Value(f) }));
        }

        if (r.NotInSync > 0)
        {
            w.WriteLine();
            w.WriteLine(string.Create(s_ci, $"Not in SYNC at the root: {r.NotInSync:N0} node(s){(r.NotInSync > r.Stragglers.Count ? $", the first {r.Stragglers.Count}" : "")}"));
            Table(w, ["node", "at the root", "parent", "the parent's view", "the parent's plan"],
                r.Stragglers.Select(x => new[] { x.Node, $"{x.RootRunState}, attached to {x.RootParent}", x.Parent, x.ParentView, x.ParentPlan }));
        }

        w.WriteLine();
        var dhcp = r.Dhcp is not { } d ? [] : new[]
        {
            new[] { "dhcp frames (client / server)", $"{d.ClientFrames.Sum().ToString("N0", s_ci)} / {d.ServerFrames.Sum().ToString("N0", s_ci)}" },
            ["dhcp leases / retransmits / lost", $"{d.Leases.ToString("N0", s_ci)} / {d.Retransmissions.ToString("N0", s_ci)} / {d.Lost.ToString("N0", s_ci)}"],
            ["dhcp unknown MACs / dropped", $"{d.UnknownClients.ToString("N0", s_ci)} / {d.Dropped.ToString("N0", s_ci)}"],
        };
        Table(w, ["run", "value"],
        [
            ["messages sent", r.Messages.ToString("N0", s_ci)],
            ["bytes sent", Bytes(r.Bytes)],
            ["boots / power-offs and resets", $"{r.Boots.ToString("N0", s_ci)} / {r.PowerLosses.ToString("N0", s_ci)}"],
            .. dhcp,
            ["simulated time", Seconds(r.Simulated)],
            ["wall time", Seconds(r.Wall)],
            ["simulated / wall", r.SpeedUp.ToString("N1", s_ci) + "x"],
            ["peak memory (process)", Bytes(r.PeakMemoryBytes)],
        ]);
    }

    public static string Value(Figure f) => double.IsNaN(f.Value)
        ? "not reached"
        : f.Unit switch
        {
            "s" => f.Value < 1 ? (f.Value * 1000).ToString("0.###", s_ci) + " ms" : f.Value.ToString("0.###", s_ci) + " s",
            "" => f.Value.ToString("0.###", s_ci),
            _ => f.Value.ToString("N0", s_ci) + " " + f.Unit,
        };

    public static string Seconds(TimeSpan? t) => t is not { } v
        ? "not reached"
        : v.TotalSeconds < 1 ? v.TotalMilliseconds.ToString("0.###", s_ci) + " ms" : v.TotalSeconds.ToString("0.0##", s_ci) + " s";

    public static string Percent(double f) => (f * 100).ToString("0.#", s_ci) + " %";

    public static string Bytes(long b) => b switch
    {
        >= 1L << 30 => (b / (double)(1L << 30)).ToString("0.00", s_ci) + " GiB",
        >= 1L << 20 => (b / (double)(1L << 20)).ToString("0.0", s_ci) + " MiB",
        >= 1L << 10 => (b / 1024.0).ToString("0.0", s_ci) + " KiB",
        _ => b.ToString(s_ci) + " B",
    };

    /// <summary>A plain text table: first column left-aligned, the others right-aligned.</summary>
    public static void Table(TextWriter w, string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = new int[header.Length];
        foreach (var row in all)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        for (var r = 0; r < all.Count; r++)
        {
            var cells = all[r].Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]));
            w.WriteLine("  " + string.Join("  ", cells).TrimEnd());
            if (r == 0)
            {
                w.WriteLine("  " + string.Join("  ", widths.Select(x => new string('-', x))));
            }
        }
    }
}
