// Two network namespaces joined by a veth pair, created for one test and removed afterwards.
using System.Diagnostics;

namespace Kraken.Net.Tests.Link;

internal sealed class VethNamespaces : IDisposable
{
    public VethNamespaces()
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        NamespaceA = $"knt-{id}-a";
        NamespaceB = $"knt-{id}-b";
        InterfaceA = $"kv{id}a";
        InterfaceB = $"kv{id}b";
        try
        {
            Ip("netns", "add", NamespaceA);
            Ip("netns", "add", NamespaceB);
            Ip("link", "add", InterfaceA, "netns", NamespaceA, "type", "veth", "peer", "name", InterfaceB, "netns", NamespaceB);
            Ip("-n", NamespaceA, "link", "set", InterfaceA, "up");
            Ip("-n", NamespaceB, "link", "set", InterfaceB, "up");
            WaitUntilUp(NamespaceA, InterfaceA);
            WaitUntilUp(NamespaceB, InterfaceB);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string NamespaceA { get; }

    public string NamespaceB { get; }

    public string InterfaceA { get; }

    public string InterfaceB { get; }

    /// <summary>A veth drops what it is given until its carrier is up, which can take a moment on a busy machine.</summary>
    private static void WaitUntilUp(string ns, string name)
    {
        for (var attempt = 0; attempt < 250; attempt++)
        {
            if (IpOutput("-n", ns, "-o", "link", "show", "dev", name).Contains("state UP", StringComparison.Ordinal))
            {
                return;
            }

            Thread.Sleep(20);
        }

        throw new InvalidOperationException($"{name} in {ns} did not come up");
    }

    public static void Ip(params string[] arguments) => IpOutput(arguments);

    public static string IpOutput(params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)}: {error.Result}");
        }

        return output;
    }

    public void Dispose()
    {
        // Deleting a namespace removes the veth end inside it, and with it the peer.
        foreach (var ns in new[] { NamespaceA, NamespaceB })
        {
            try
            {
                Ip("netns", "delete", ns);
            }
            catch (InvalidOperationException)
            {
                // Never created.
            }
        }
    }
}
