// Progress of a running simulation: a live line on a terminal, a plain line every few seconds otherwise.
using System.Diagnostics;
using System.Globalization;
using Kraken.Sim.Scenarios;

namespace Kraken.Sim.Cli;

internal sealed class ConsoleProgress(TextWriter output, bool live) : IProgressSink
{
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private TimeSpan _last = TimeSpan.FromDays(-1);
    private bool _lineOpen;

    public void Report(string phase, TimeSpan simulated, int done, int total)
    {
        var now = _wall.Elapsed;
        var every = live ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(5);
        if (now - _last < every)
        {
            return;
        }

        _last = now;
        var fraction = total > 0 ? done / (double)total : 0;
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{phase,-12} {Bar(fraction)} {done,9:N0}/{total:N0}  simulated {simulated.TotalSeconds,7:F1} s  wall {now.TotalSeconds,6:F1} s");
        if (live)
        {
            output.Write("\r" + text + "\u001b[K");
            _lineOpen = true;
        }
        else
        {
            output.WriteLine(text);
        }
    }

    public void Complete()
    {
        if (_lineOpen)
        {
            output.Write("\r\u001b[K");
            _lineOpen = false;
        }

        _last = TimeSpan.FromDays(-1);
    }

    private static string Bar(double fraction)
    {
        const int width = 24;
        var filled = (int)Math.Round(Math.Clamp(fraction, 0, 1) * width);
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }
}
