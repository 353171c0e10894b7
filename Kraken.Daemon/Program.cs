// Entry point of the kraken executable: "kraken serve" runs the daemon, every other verb is a client.
namespace Kraken.Daemon;

internal static class Program
{
    private static Task<int> Main(string[] args) => Cli.CommandLine.RunAsync(args, Console.Out, Console.Error);
}
