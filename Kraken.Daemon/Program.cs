// Entry point of the kraken executable.
namespace Kraken.Daemon;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("kraken: no verbs are available yet.");
        return args.Length == 0 ? 2 : 2;
    }
}
