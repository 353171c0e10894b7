// The start of a node booted over the network: kernel arguments, the uplink, the bootstrap credential, the configuration.
using System.Globalization;
using Kraken.Daemon.Hosting;
using Kraken.Net.Link;

namespace Kraken.Daemon.Boot;

/// <summary>
/// What <c>kraken serve --boot</c> starts from: the node's <see cref="Arguments"/> (its identity, uplink and parents,
/// from the kernel command line) and the bootstrap <see cref="Credential"/> its parent delivered inside this boot
/// (<c>/etc/kraken/bootstrap</c>, read once and deleted). The cluster's join secret is not among them: the parent
/// hands it over, sealed, at the first join.
/// </summary>
public sealed class BootStart
{
    private BootStart(KernelArguments arguments, byte[]? credential)
    {
        Arguments = arguments;
        Credential = credential;
    }

    public KernelArguments Arguments { get; }

    /// <summary>The bootstrap credential, or null when the configuration provides the join secret instead.</summary>
    public byte[]? Credential { get; }

    /// <summary>How long to wait for the uplink NIC to appear (its driver may still be loading).</summary>
    public static TimeSpan NicWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Reads the kernel arguments, brings the uplink up with its address (and the default route through
    /// <c>kraken.gw</c>), and reads the bootstrap credential. Throws <see cref="DaemonConfigException"/> naming the
    /// argument or file at fault; network failures throw as they are.
    /// </summary>
    public static async Task<BootStart> PrepareAsync(string commandLine, IReadOnlyList<string> overrides, TextWriter log, CancellationToken cancellationToken)
    {
        var arguments = KernelArguments.Read(commandLine);
        var credential = ReadCredential(arguments, overrides);

        var deadline = DateTime.UtcNow + NicWait;
        using var netlink = NetworkConfigurator.Open();
        while (true)
        {
            var link = arguments.Mac is { } mac
                ? await netlink.FindByMacAsync(mac, cancellationToken).ConfigureAwait(false)
                : await netlink.FindByNameAsync(arguments.Interface!, cancellationToken).ConfigureAwait(false);
            if (link is not null)
            {
                break;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"no interface {(arguments.Mac is { } m ? $"with MAC {m}" : $"named {arguments.Interface}")} appeared within {NicWait.TotalSeconds:0} s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
        }

        var report = await netlink.ConfigureAsync(arguments.ToUplink(), cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"kraken serve --boot: node {arguments.Id} ({arguments.Name ?? "unnamed"}): {report}").ConfigureAwait(false);
        if (arguments.Name is { } name)
        {
            TrySetHostname(name);
        }

        return new BootStart(arguments, credential);
    }

    /// <summary>For tests: a start from arguments and a credential, without touching the network.</summary>
    public static BootStart Of(KernelArguments arguments, byte[]? credential) => new(arguments, credential);

    /// <summary>The configuration the kernel arguments make: identity, role, parents, bind addresses, log level.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Configuration()
    {
        var a = Arguments;
        yield return new("NodeId", a.Id.ToString());
        yield return new("Role", "child");
        yield return new("Api:Url", a.ApiUrl.GetLeftPart(UriPartial.Authority));
        yield return new("Sync:Bind", $"0.0.0.0:{KernelArguments.DefaultParentPort.ToString(CultureInfo.InvariantCulture)}");
        for (var i = 0; i < a.Parents.Count; i++)
        {
            yield return new($"Sync:Parents:{i.ToString(CultureInfo.InvariantCulture)}", a.Parents[i].ToString());
        }

        yield return new("Logging:LogLevel:Default", a.LogLevel.ToString());
        yield return new("Logging:LogLevel:Microsoft.AspNetCore", "Warning");
    }

    /// <summary>
    /// The credential file: its first line the credential in hex, its second the node id it was issued for. Deleted
    /// once read: it is single-use, and nothing else on the node needs it. Without it, the configuration must hold the
    /// join secret (a node provisioned by other means).
    /// </summary>
    private static byte[]? ReadCredential(KernelArguments arguments, IReadOnlyList<string> overrides)
    {
        const string Key = "kraken.bootstrap";
        var path = arguments.BootstrapPath;
        if (!File.Exists(path))
        {
            if (overrides.Any(o => o.StartsWith("--Sync:JoinSecret", StringComparison.OrdinalIgnoreCase))
                || Environment.GetEnvironmentVariable("KRAKEN_Sync__JoinSecret") is not null
                || Environment.GetEnvironmentVariable("KRAKEN_Sync__JoinSecretFile") is not null)
            {
                return null;
            }

            throw new DaemonConfigException(Key, $"no bootstrap credential at '{path}' (the parent delivers it inside the boot) and no Sync:JoinSecret given");
        }

        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigException(Key, $"cannot read '{path}': {e.Message}");
        }

        byte[] credential;
        try
        {
            credential = lines.Length > 0 ? Convert.FromHexString(lines[0].Trim()) : [];
        }
        catch (FormatException)
        {
            throw new DaemonConfigException(Key, $"'{path}' does not start with a credential in hex");
        }

        if (credential.Length < 16)
        {
            throw new DaemonConfigException(Key, $"'{path}' holds {credential.Length} bytes, not a credential (at least 16)");
        }

        if (lines.Length > 1 && lines[1].Trim() is { Length: > 0 } issuedTo && issuedTo != arguments.Id.ToString())
        {
            throw new DaemonConfigException(Key, $"'{path}' was issued to node {issuedTo}, not to this node ({arguments.Id})");
        }

        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only copy: the credential is spent at the first join anyway.
        }

        return credential;
    }

    private static void TrySetHostname(string name)
    {
        try
        {
            File.WriteAllText("/proc/sys/kernel/hostname", name);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not fatal: the node is known by its id everywhere that matters.
        }
    }
}
