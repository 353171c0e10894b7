// Steady-state bandwidth of the Kraken profile against the KrakenGo (original) profile, and hello-path allocations.
using System.Globalization;
using Kraken.Net.Sync;
using Kraken.Tree.State;
using Kraken.Tree.Sync;

namespace Kraken.Sync.Bench;

internal static class Scenario
{
    /// <summary>IPv4 + UDP headers: what every datagram costs on the wire beyond the frame.</summary>
    private const int IpUdpHeader = 28;

    public static void Run(int tier1, int leavesPerTier1)
    {
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine("== One typical node under the root (its adjacency alone)");
        Measure(1, 0);
        Console.WriteLine();
        Console.WriteLine(string.Create(ci, $"== Whole tree, averaged over every node below the root"));
        Measure(tier1, leavesPerTier1);
        HelloAllocations();
    }

    private static void Measure(int tier1, int leavesPerTier1)
    {
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(ci, $"Tree: root, {tier1} tier-1 nodes, {tier1 * leavesPerTier1} leaves; typical node records (Cfg {RecordSize(true)} B, Dsc {RecordSize(false)} B encoded)."));
        Console.WriteLine();
        Console.WriteLine("profile   hello  dead  B/node/hello  B/node/10s  +IP/UDP/hello  msgs/node/hello");
        var results = new Dictionary<SyncProfile, (double PerHello, double Per10s, double WithHeaders)>();
        foreach (var profile in new[] { SyncProfile.Kraken, SyncProfile.KrakenGo })
        {
            var tree = new SyncTree(profile, tier1, leavesPerTier1);

            // Let joins, initial exchanges and damping settle, then measure ten minutes (well before the 30-minute refresh).
            tree.Time.Advance(TimeSpan.FromMinutes(1));
            var window = TimeSpan.FromMinutes(10);
            var bytes0 = tree.TotalBytes;
            var msgs0 = tree.TotalMessages;
            var byType0 = Enum.GetValues<MessageType>().ToDictionary(t => t, t => tree.Engines.Sum(e => e.Counters.Sent(t)));
            tree.Time.Advance(window);
            var byType = string.Join(", ", Enum.GetValues<MessageType>()
                .Select(t => (Type: t, Count: tree.Engines.Sum(e => e.Counters.Sent(t)) - byType0[t]))
                .Where(x => x.Count > 0)
                .Select(x => $"{x.Type} {x.Count}"));
            var bytes = tree.TotalBytes - bytes0;
            var msgs = tree.TotalMessages - msgs0;
            var hellos = window / tree.Options.HelloInterval;
            var perHello = bytes / (double)tree.NonRootNodes / hellos;
            var per10s = bytes / (double)tree.NonRootNodes / (window / TimeSpan.FromSeconds(10));
            var withHeaders = (bytes + (msgs * IpUdpHeader)) / (double)tree.NonRootNodes / hellos;
            results[profile] = (perHello, per10s, withHeaders);
            Console.WriteLine(string.Create(ci, $"{profile,-9} {tree.Options.HelloInterval.TotalSeconds,4}s  {tree.Options.DeadInterval.TotalSeconds,3}s  {perHello,12:F1}  {per10s,10:F1}  {withHeaders,13:F1}  {msgs / (double)tree.NonRootNodes / hellos,15:F2}   ({byType})"));
        }

        var k = results[SyncProfile.Kraken];
        var g = results[SyncProfile.KrakenGo];
        Console.WriteLine();
        Console.WriteLine(string.Create(ci, $"Kraken / KrakenGo per hello interval: {k.PerHello / g.PerHello:F3} (frames), {k.WithHeaders / g.WithHeaders:F3} (with IP/UDP headers)"));
        Console.WriteLine(string.Create(ci, $"Kraken / KrakenGo per 10 s:           {k.Per10s / g.Per10s:F3}"));
        Console.WriteLine();
    }

    private static int RecordSize(bool cfg)
    {
        var id = NodeId.FromName("size");
        var record = cfg ? TypicalNode.Cfg(id, 1234, NodeId.FromName("p"), NodeId.FromName("b")) : TypicalNode.Dsc(id, 1234);
        return NodeRecordCodec.ToBytes(record).Length;
    }

    /// <summary>Allocated bytes per hello in steady state: a root and one child, hellos both ways, nothing else changing.</summary>
    private static void HelloAllocations()
    {
        var tree = new SyncTree(SyncProfile.Kraken, 1, 0);
        tree.Time.Advance(TimeSpan.FromMinutes(1));
        var hellos0 = tree.Engines.Sum(e => e.Counters.Sent(MessageType.Hello));
        var before = GC.GetAllocatedBytesForCurrentThread();
        tree.Time.Advance(TimeSpan.FromMinutes(20));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var hellos = tree.Engines.Sum(e => e.Counters.Sent(MessageType.Hello)) - hellos0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Hello path (send, in-memory network, receive, verify, on a virtual clock): {allocated / (double)hellos:F1} B allocated per hello over {hellos} hellos"));
    }
}
