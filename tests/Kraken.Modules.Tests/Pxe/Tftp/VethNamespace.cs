// A network namespace joined to the host namespace by a veth pair with a random 198.19.x.y/30; removed at dispose.
using System.Globalization;
using System.Net;

namespace Kraken.Modules.Tests.Pxe.Tftp;

internal sealed class VethNamespace : IAsyncDisposable
{
    private readonly string _hostLink;

    private VethNamespace(string name, string hostLink, IPAddress hostAddress, IPAddress namespaceAddress)
    {
        Name = name;
        _hostLink = hostLink;
        HostAddress = hostAddress;
        NamespaceAddress = namespaceAddress;
    }

    public string Name { get; }

    public IPAddress HostAddress { get; }

    public IPAddress NamespaceAddress { get; }

    public static async Task<VethNamespace> CreateAsync()
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        var name = "ktftp-" + id;
        var hostLink = "kth" + id;
        var nsLink = "ktn" + id;
        var rng = Random.Shared;
        var third = rng.Next(0, 256);
        var fourth = rng.Next(0, 64) * 4;
        var host = IPAddress.Parse($"198.19.{third}.{fourth + 1}");
        var inside = IPAddress.Parse($"198.19.{third}.{fourth + 2}");
        var ns = new VethNamespace(name, hostLink, host, inside);
        try
        {
            await Ip("netns", "add", name);
            await Ip("link", "add", hostLink, "type", "veth", "peer", "name", nsLink);
            await Ip("link", "set", nsLink, "netns", name);
            await Ip("addr", "add", $"{host}/30", "dev", hostLink);
            await Ip("link", "set", hostLink, "up");
            await Ip("-n", name, "addr", "add", $"{inside}/30", "dev", nsLink);
            await Ip("-n", name, "link", "set", nsLink, "up");
            await Ip("-n", name, "link", "set", "lo", "up");
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }

        return ns;
    }

    /// <summary>Runs <paramref name="tool"/> inside the namespace.</summary>
    public Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> args, TimeSpan? timeout = null) =>
        TftpTools.RunAsync("ip", new[] { "netns", "exec", Name, tool }.Concat(args), timeout);

    public async ValueTask DisposeAsync()
    {
        // Deleting the host end removes its peer; deleting the namespace removes anything left inside.
        await TftpTools.RunAsync("ip", ["link", "del", _hostLink]);
        await TftpTools.RunAsync("ip", ["netns", "del", Name]);
    }

    private static async Task Ip(params string[] args)
    {
        var (exit, output) = await TftpTools.RunAsync("ip", args);
        if (exit != 0)
        {
            throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "ip {0} failed ({1}): {2}", string.Join(' ', args), exit, output));
        }
    }
}
