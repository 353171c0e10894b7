// Where a running simulation reports how far it got.
namespace Kraken.Sim.Scenarios;

internal interface IProgressSink
{
    /// <summary>Called after every step of virtual time; implementations decide how often to show it.</summary>
    void Report(string phase, TimeSpan simulated, int done, int total);

    /// <summary>The phase ended (clears a live line).</summary>
    void Complete();
}

internal sealed class NoProgress : IProgressSink
{
    public static NoProgress Instance { get; } = new();

    public void Report(string phase, TimeSpan simulated, int done, int total)
    {
    }

    public void Complete()
    {
    }
}
