// Settings of one TFTP server, validated when it starts.
using System.Net;

namespace Kraken.Modules.Pxe.Tftp;

public sealed class TftpServerOptions
{
    /// <summary>Where requests arrive (default 0.0.0.0:69; port 0 picks one). Transfers use ephemeral ports on the same address.</summary>
    public IPEndPoint Endpoint { get; set; } = new(IPAddress.Any, 69);

    /// <summary>Largest blksize granted (RFC 2348, 8..65464); a larger request is answered with this value.</summary>
    public int MaxBlockSize { get; set; } = 65464;

    /// <summary>Largest windowsize granted (RFC 7440, 1..32768).</summary>
    public int MaxWindowSize { get; set; } = 64;

    /// <summary>
    /// Largest burst (blksize x windowsize, in file bytes) sent before waiting for an ACK; the granted windowsize
    /// is lowered to fit. A whole window lands in the client's socket receive buffer before the client reads it:
    /// Linux's default (212,992 bytes) is charged about twice the payload for 8 KiB datagrams (kernel overhead,
    /// IP fragments), so 8192 x 16 overflows it and stalls; 96 KiB (8192 x 12, 1428 x 64) does not.
    /// </summary>
    public int MaxBurstBytes { get; set; } = 96 * 1024;

    /// <summary>Retransmission timeout when the client does not ask for one (RFC 2349 timeout option).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Retransmissions of one window (or OACK) before the transfer is abandoned.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>
    /// Transfers running at once. When full, a new request takes the slot of the oldest transfer still waiting for
    /// its first ACK; when every running transfer has been acknowledged, it gets error 0 "Server busy".
    /// </summary>
    public int MaxTransfers { get; set; } = 10_000;

    /// <summary>
    /// Transfers at once that have not had their first ACK (the client has not yet shown it receives at its
    /// address). Beyond it the oldest of them is ended to make room for the new request.
    /// </summary>
    public int MaxUnproven { get; set; } = 1024;

    /// <summary>
    /// Transfers without their first ACK at once from one client address; further requests from that address are
    /// dropped unanswered until one is acknowledged or ends. A PXE client fetches one file at a time.
    /// </summary>
    public int MaxUnprovenPerClient { get; set; } = 4;

    /// <summary>
    /// How long a transfer waits for its first ACK. Until then its first packet (DATA 1 or the OACK) is sent again
    /// only when the client repeats its request, never on a timer, so an address that does not answer gets one
    /// packet per request it appears to send. Long enough for a client's own retransmission (tftp-hpa: 5 s).
    /// </summary>
    public TimeSpan UnprovenTimeout { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>Cap on the socket buffers sized for a transfer's burst (bytes).</summary>
    public int MaxSocketBuffer { get; set; } = 8 << 20;

    /// <summary>
    /// Send each DATA block with its own syscall even where the kernel could cut a window into datagrams itself
    /// (UDP GSO, Linux 4.18+; used by default for windowsize above 1 and blocks of 512 bytes or more).
    /// </summary>
    public bool DisableSegmentation { get; set; }

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Endpoint is null)
        {
            throw new ArgumentException("TFTP option Endpoint is required.", nameof(Endpoint));
        }

        Check(MaxBlockSize is >= 8 and <= 65464, nameof(MaxBlockSize), "must be 8..65464");
        Check(MaxWindowSize is >= 1 and <= 32768, nameof(MaxWindowSize), "must be 1..32768");
        Check(MaxBurstBytes >= 512, nameof(MaxBurstBytes), "must be at least 512");
        Check(Timeout > TimeSpan.Zero, nameof(Timeout), "must be positive");
        Check(MaxRetries >= 0, nameof(MaxRetries), "must not be negative");
        Check(MaxTransfers >= 1, nameof(MaxTransfers), "must be at least 1");
        Check(MaxUnproven >= 1, nameof(MaxUnproven), "must be at least 1");
        Check(MaxUnprovenPerClient >= 1, nameof(MaxUnprovenPerClient), "must be at least 1");
        Check(UnprovenTimeout > TimeSpan.Zero, nameof(UnprovenTimeout), "must be positive");
        Check(MaxSocketBuffer >= 65536, nameof(MaxSocketBuffer), "must be at least 65536");
    }

    private static void Check(bool ok, string name, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"TFTP option {name} {rule}.", name);
        }
    }
}
