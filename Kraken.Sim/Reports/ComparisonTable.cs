// Side by side: the same scenario under both sync profiles.
using System.Globalization;

namespace Kraken.Sim.Reports;

internal static class ComparisonTable
{
    public static void Write(TextWriter w, SimResult a, SimResult b)
    {
        var ci = CultureInfo.InvariantCulture;
        var rows = new List<string[]>();
        foreach (var fa in a.Figures)
        {
            if (b.Figures.FirstOrDefault(f => f.Name == fa.Name) is { } fb && fa.Unit == "s")
            {
                var ratio = fa.Value > 0 && double.IsFinite(fb.Value) ? (fb.Value / fa.Value).ToString("N1", ci) + "x" : "-";
                rows.Add([fa.Name, SummaryTable.Value(fa), SummaryTable.Value(fb), ratio]);
            }
        }

        foreach (var ((f, ta), (_, tb)) in a.SyncTimes.Zip(b.SyncTimes))
        {
            rows.Add([$"{SummaryTable.Percent(f)} SYNC at root", SummaryTable.Seconds(ta), SummaryTable.Seconds(tb), "-"]);
        }

        rows.Add(["bytes sent", SummaryTable.Bytes(a.Bytes), SummaryTable.Bytes(b.Bytes), a.Bytes > 0 ? (b.Bytes / (double)a.Bytes).ToString("N1", ci) + "x" : "-"]);
        SummaryTable.Table(w, ["comparison", a.Profile, b.Profile, $"{b.Profile} / {a.Profile}"], rows);
    }
}
