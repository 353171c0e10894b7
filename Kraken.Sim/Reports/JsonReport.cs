// The --json output: one document per command, schema in docs/sim-output.md.
using System.Text.Json;
using Kraken.Sim.Sweeps;

namespace Kraken.Sim.Reports;

internal static class JsonReport
{
    public const string Schema = "kraken-sim/1";

    public static void WriteRuns(string path, IReadOnlyList<SimResult> runs) => Write(path, w =>
    {
        w.WriteString("schema", Schema);
        w.WriteString("command", "run");
        w.WriteStartArray("runs");
        foreach (var r in runs)
        {
            WriteRun(w, r);
        }

        w.WriteEndArray();
    });

    public static void WriteSweep(string path, SweepResult sweep) => Write(path, w =>
    {
        w.WriteString("schema", Schema);
        w.WriteString("command", "sweep");
        w.WriteString("profile", sweep.Profile);
        w.WriteNumber("seed", sweep.Seed);
        w.WriteNumber("loss", sweep.Loss);
        w.WriteNumber("windowSeconds", sweep.Window.TotalSeconds);
        w.WriteNumber("wallSeconds", sweep.Wall.TotalSeconds);
        w.WriteStartArray("points");
        foreach (var p in sweep.Points)
        {
            w.WriteStartObject();
            w.WriteNumber("helloSeconds", p.Hello.TotalSeconds);
            w.WriteNumber("deadMultiple", p.DeadMultiple);
            w.WriteNumber("deadSeconds", p.Dead.TotalSeconds);
            w.WriteNumber("fanout", p.Fanout);
            Number(w, "detectionMeanSeconds", p.DetectionMean);
            Number(w, "detectionMaxSeconds", p.DetectionMax);
            w.WriteNumber("falsePositives", p.FalsePositives);
            w.WriteNumber("falsePositivesPerAdjacencyHour", p.FalsePositiveRate);
            Number(w, "propagationP50Seconds", p.PropagationP50);
            Number(w, "propagationMaxSeconds", p.PropagationMax);
            w.WriteNumber("bytesPerNodePerSecond", p.BytesPerNodePerSecond);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    });

    private static void WriteRun(Utf8JsonWriter w, SimResult r)
    {
        w.WriteStartObject();
        w.WriteString("scenario", r.Scenario);
        w.WriteString("profile", r.Profile);
        w.WriteNumber("seed", r.Seed);
        w.WriteBoolean("converged", r.Converged);
        w.WriteStartObject("topology");
        w.WriteNumber("nodes", r.Nodes);
        Ints(w, "tierCounts", r.TierCounts);
        Ints(w, "fanout", r.Fanout);
        w.WriteEndObject();
        w.WriteStartObject("settings");
        foreach (var (k, v) in r.Settings)
        {
            w.WriteString(k, v);
        }

        w.WriteEndObject();
        w.WriteStartObject("sync");
        foreach (var (f, t) in r.SyncTimes)
        {
            Number(w, "p" + (f * 100).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture), t?.TotalSeconds);
        }

        w.WriteEndObject();
        w.WriteStartArray("tiers");
        foreach (var t in r.Tiers)
        {
            w.WriteStartObject();
            w.WriteNumber("tier", t.Tier);
            w.WriteNumber("nodes", t.Nodes);
            Number(w, "allSyncSeconds", t.AllSync?.TotalSeconds);
            w.WriteNumber("messages", t.Messages);
            w.WriteNumber("bytes", t.Bytes);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("figures");
        foreach (var f in r.Figures)
        {
            w.WriteStartObject();
            w.WriteString("name", f.Name);
            Number(w, "value", f.Value);
            w.WriteString("unit", f.Unit);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNumber("notInSync", r.NotInSync);
        w.WriteStartArray("stragglers");
        foreach (var x in r.Stragglers)
        {
            w.WriteStartObject();
            w.WriteString("node", x.Node);
            w.WriteString("rootRunState", x.RootRunState);
            w.WriteString("rootParent", x.RootParent);
            w.WriteString("parent", x.Parent);
            w.WriteString("parentView", x.ParentView);
            w.WriteString("parentPlan", x.ParentPlan);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNumber("messages", r.Messages);
        w.WriteNumber("bytes", r.Bytes);
        w.WriteNumber("boots", r.Boots);
        w.WriteNumber("powerLosses", r.PowerLosses);
        if (r.Dhcp is { } d)
        {
            w.WriteStartObject("dhcp");
            w.WriteStartArray("clientFramesByTier");
            foreach (var n in d.ClientFrames)
            {
                w.WriteNumberValue(n);
            }

            w.WriteEndArray();
            w.WriteStartArray("serverFramesByTier");
            foreach (var n in d.ServerFrames)
            {
                w.WriteNumberValue(n);
            }

            w.WriteEndArray();
            w.WriteNumber("frames", d.Frames);
            w.WriteNumber("retransmissions", d.Retransmissions);
            w.WriteNumber("lost", d.Lost);
            w.WriteNumber("leases", d.Leases);
            w.WriteNumber("gaveUp", d.GaveUp);
            w.WriteNumber("noServer", d.NoServer);
            w.WriteNumber("servers", d.Servers);
            w.WriteNumber("received", d.Received);
            w.WriteNumber("sent", d.Sent);
            w.WriteNumber("unknownClients", d.UnknownClients);
            w.WriteNumber("dropped", d.Dropped);
            w.WriteEndObject();
        }
        w.WriteNumber("simulatedSeconds", r.Simulated.TotalSeconds);
        w.WriteNumber("wallSeconds", r.Wall.TotalSeconds);
        w.WriteNumber("simulatedPerWall", r.SpeedUp);
        w.WriteNumber("peakMemoryBytes", r.PeakMemoryBytes);
        w.WriteStartArray("convergence");
        for (var k = 0; k < r.Convergence.Count; k++)
        {
            w.WriteStartObject();
            w.WriteNumber("tier", k + 1);
            w.WriteStartArray("points");
            foreach (var (s, c) in r.Convergence[k])
            {
                w.WriteStartArray();
                w.WriteNumberValue(s);
                w.WriteNumberValue(c);
                w.WriteEndArray();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void Ints(Utf8JsonWriter w, string name, int[] values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }

    private static void Write(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    }
}
