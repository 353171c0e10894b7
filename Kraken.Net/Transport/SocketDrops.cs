// Datagrams and frames the kernel dropped at a socket before the daemon read them (its receive buffer or ring
// full), read from the kernel, and the one counter family that puts them on /metrics for every socket.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Kraken.Net.Transport;

/// <summary>
/// The kernel's drop count of one socket, and <c>kraken_socket_packets_dropped_total{socket, local}</c>: each socket
/// the daemon owns registers how to read its count while it is open; a closed socket's last count is kept, so the
/// counter never goes back.
/// </summary>
public static class SocketDrops
{
    public const string MeterName = "Kraken.Net";

    private const int SolSocket = 1;        // SOL_SOCKET
    private const int SoMemInfo = 55;       // SO_MEMINFO: u32 sk_meminfo[SK_MEMINFO_VARS]
    private const int MemInfoDrops = 8;     // SK_MEMINFO_DROPS (Linux 4.6+): the socket's sk_drops

    private static readonly Meter s_meter = new(MeterName);
    private static readonly ConcurrentDictionary<Registration, byte> s_live = new();
    private static readonly ConcurrentDictionary<(string Socket, string Local), long> s_closed = new();

    static SocketDrops() => s_meter.CreateObservableCounter(
        "kraken.socket.packets.dropped",
        Observe,
        "{packet}",
        "Datagrams and frames the kernel dropped at a socket before the daemon read them (receive buffer or capture ring full), by socket.");

    /// <summary>
    /// The socket's <c>sk_drops</c> through <c>getsockopt(SO_MEMINFO)</c>: for UDP the datagrams dropped because the
    /// receive buffer was full (or failed their checksum), for AF_PACKET the frames dropped for the same reason.
    /// Null when the kernel does not report it or the socket is closed.
    /// </summary>
    public static long? Read(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<uint> info = stackalloc uint[16];
        try
        {
            var length = socket.GetRawSocketOption(SolSocket, SoMemInfo, MemoryMarshal.AsBytes(info));
            return length >= (MemInfoDrops + 1) * sizeof(uint) ? info[MemInfoDrops] : null;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Publishes <paramref name="read"/> (a running total) as <c>kraken_socket_packets_dropped_total</c> with labels
    /// <c>socket</c> (what it serves: <c>sync</c>, <c>dhcp</c>, <c>tftp</c>, <c>ra</c>) and <c>local</c> (its address
    /// or interface). Dispose the registration before closing the socket: its last count is kept.
    /// </summary>
    public static IDisposable Register(string socket, string local, Func<long> read)
    {
        ArgumentException.ThrowIfNullOrEmpty(socket);
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(read);
        var registration = new Registration(socket, local, read);
        s_live[registration] = 0;
        return registration;
    }

    private static IEnumerable<Measurement<long>> Observe()
    {
        var totals = new Dictionary<(string Socket, string Local), long>(s_closed);
        foreach (var r in s_live.Keys)
        {
            var key = (r.Socket, r.Local);
            totals[key] = totals.GetValueOrDefault(key) + r.Last();
        }

        foreach (var ((socket, local), value) in totals)
        {
            yield return new Measurement<long>(value, new("socket", socket), new("local", local));
        }
    }

    private sealed class Registration(string socket, string local, Func<long> read) : IDisposable
    {
        private long _last;

        public string Socket { get; } = socket;

        public string Local { get; } = local;

        /// <summary>Reads now; a failed read (the socket closing) keeps the last count.</summary>
        public long Last()
        {
            try
            {
                var value = read();
                if (value > Interlocked.Read(ref _last))
                {
                    Interlocked.Exchange(ref _last, value);
                }
            }
#pragma warning disable CA1031 // a socket closing under a scrape must not fail the scrape
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            return Interlocked.Read(ref _last);
        }

        public void Dispose()
        {
            if (s_live.TryRemove(this, out _))
            {
                var last = Last();
                s_closed.AddOrUpdate((Socket, Local), last, (_, total) => total + last);
            }
        }
    }
}
