// Kraken.Net: wire formats, framing, sockets, raw links and the in-memory network.
[assembly: System.CLSCompliant(false)]
