// Plots written as plain SVG: convergence over time, and detection time against bandwidth for sweeps.
using Kraken.Sim.Sweeps;

namespace Kraken.Sim.Reports;

internal static partial class SvgPlot
{
    public static void WriteConvergence(string path, IReadOnlyList<SimResult> runs)
    {
    }

    public static void WriteSweep(string path, SweepResult sweep)
    {
    }
}
