// The HTTP boot server's connection limits, in total and per client address, enforced as connections arrive.
using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Kraken.Modules.Pxe.Http;

/// <summary>
/// Counts the open connections, in total and per remote address, and closes at once a connection beyond either
/// limit, before any byte of it is read: one client cannot hold every slot, nor many the server's descriptors.
/// </summary>
internal sealed class ConnectionLimits(int maxTotal, int maxPerClient, HttpBootCounters counters)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _byClient = [];
    private int _total;

    public async Task RunAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        HttpBootConnectionRefusal? refused = null;
        lock (_lock)
        {
            _byClient.TryGetValue(address, out var fromClient);
            if (_total >= maxTotal)
            {
                refused = HttpBootConnectionRefusal.Total;
            }
            else if (fromClient >= maxPerClient)
            {
                refused = HttpBootConnectionRefusal.Client;
            }
            else
            {
                _total++;
                _byClient[address] = fromClient + 1;
            }
        }

        if (refused is { } why)
        {
            // Returning without running the connection closes it.
            counters.ConnectionRefused(why);
            return;
        }

        counters.ConnectionOpened(1);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            counters.ConnectionOpened(-1);
            lock (_lock)
            {
                _total--;
                if (_byClient[address] is > 1 and var n)
                {
                    _byClient[address] = n - 1;
                }
                else
                {
                    _byClient.Remove(address);
                }
            }
        }
    }
}
