// kraken-tftp-bench ROOT ADDRESS:PORT [MAX_WINDOW]: serves ROOT with our TFTP server until SIGTERM or SIGINT,
// then prints the server's counters. bench/tftp/run.sh runs it inside a network namespace.
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Kraken.Modules.Pxe.Tftp;
using Microsoft.Extensions.Logging.Abstractions;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Kraken.Tftp.Bench ROOT ADDRESS:PORT [MAX_WINDOW]");
    return 2;
}

// KRAKEN_TFTP_NO_GSO=1: one send per DATA block (TftpServerOptions.DisableSegmentation), for comparison.
var options = new TftpServerOptions
{
    Endpoint = IPEndPoint.Parse(args[1]),
    DisableSegmentation = Environment.GetEnvironmentVariable("KRAKEN_TFTP_NO_GSO") == "1",
};
if (args.Length > 2)
{
    options.MaxWindowSize = int.Parse(args[2], CultureInfo.InvariantCulture);
}

await using var server = new TftpServer(options, new DirectoryFileSource(args[0]), TimeProvider.System, NullLogger.Instance);
await server.StartAsync(CancellationToken.None);
Console.WriteLine($"listening on {server.LocalEndPoint}");

var stop = new TaskCompletionSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.TrySetResult();
});
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
{
    c.Cancel = true;
    stop.TrySetResult();
});
var allocatedAtStart = GC.GetTotalAllocatedBytes(precise: true);
await stop.Task;
var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedAtStart;

var n = server.Counters;
Console.WriteLine($"transfers completed {n.TransfersCompleted}, failed {n.TransfersFailed}, bytes {n.BytesSent}, blocks {n.BlocksSent}, " +
    $"retransmissions {n.Retransmissions}, duplicate acks {n.DuplicateAcks}, dropped {n.DroppedTotal}, " +
    $"segmented sends {n.SegmentedSends}, segmentation fallbacks {n.SegmentationFallbacks}, " +
    $"evicted {n.TransfersEvicted}, unacknowledged {n.TransfersUnacknowledged}, busy {n.Dropped(TftpDropReason.Busy)}, " +
    $"client limit {n.Dropped(TftpDropReason.ClientLimit)}, bytes to unproven clients {n.UnprovenBytesSent}; " +
    $"heap allocated while serving {allocated} bytes ({(double)allocated / Math.Max(1, n.BlocksSent):F2} per block), gen0 GCs {GC.CollectionCount(0)}");
return 0;
