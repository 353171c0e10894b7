// Runs one DHCP server on a real interface until SIGTERM/SIGINT, with a static binding for every MAC in a file
// (addresses handed out in file order from --first-ip). Prints "ready" once listening and the counters at exit.
//
//   Kraken.Dhcp.Bench --interface IF [--netns NS] [--kind pcap|afpacket] --server-ip 198.18.0.1
//                     --macs FILE --first-ip 198.18.1.0 --prefix 15
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Kraken.Modules.Pxe.Dhcp;
using Kraken.Net.Link;
using Kraken.Net.Packets;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging.Abstractions;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

string Need(string name) => options.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is required");

var interfaceName = Need("interface");
var kind = options.GetValueOrDefault("kind", "pcap") == "afpacket" ? RawLinkKind.AfPacket : RawLinkKind.Pcap;
var prefix = int.Parse(options.GetValueOrDefault("prefix", "15"), CultureInfo.InvariantCulture);
var next = Ipv4.ToUInt32(IPAddress.Parse(Need("first-ip")));
var bindings = new List<KeyValuePair<MacAddress, DhcpBinding>>();
foreach (var line in File.ReadLines(Need("macs")))
{
    if (line.Length == 0)
    {
        continue;
    }

    var mac = MacAddress.From(System.Net.NetworkInformation.PhysicalAddress.Parse(line.Trim().Replace(':', '-')));
    var address = Ipv4.ToAddress(next++);
    bindings.Add(new(mac, new DhcpBinding(NodeId.FromName(line.Trim()), address, prefix, null, null)));
}

var filter = new RawLinkFilter(UdpPort: DhcpServer.ServerPort);
await using var link = options.TryGetValue("netns", out var ns)
    ? NetworkNamespace.OpenLink(ns, interfaceName, kind, filter)
    : RawLink.Open(interfaceName, kind, filter);
var server = new DhcpServer(new DhcpServerOptions
{
    ServerAddress = IPAddress.Parse(Need("server-ip")),
    LeaseTime = TimeSpan.FromHours(1),
}, link, new DhcpBindingTable(bindings), TimeProvider.System, NullLogger.Instance);

using var stop = new CancellationTokenSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
var run = server.RunAsync(stop.Token);
Console.WriteLine($"ready: {bindings.Count} bindings on {interfaceName} ({kind})");
await run;
Console.WriteLine($"counters: {server.Counters}");
Console.WriteLine($"acks: {server.Counters.Sent(DhcpMessageType.Ack)} offers: {server.Counters.Sent(DhcpMessageType.Offer)}");
