// A small SVG line and scatter chart: title, axes with units and ticks, legend. No dependencies.
using System.Globalization;
using System.Security;
using System.Text;

namespace Kraken.Sim.Reports;

/// <summary>One series: a line through its points, or markers only, with an optional label per point.</summary>
internal sealed record ChartSeries(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, bool Line = true, IReadOnlyList<string>? Labels = null, string Marker = "circle");

/// <summary>Renders series into an SVG document with linear or logarithmic axes.</summary>
internal sealed class SvgChart
{
    private const int Width = 900;
    private const int Height = 560;
    private const int Left = 90;
    private const int Right = 230;
    private const int Top = 60;
    private const int Bottom = 70;
    private static readonly CultureInfo s_ci = CultureInfo.InvariantCulture;

    public static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    public required string Title { get; init; }

    public string? Subtitle { get; init; }

    public required string XLabel { get; init; }

    public required string YLabel { get; init; }

    public bool XLog { get; init; }

    public bool YLog { get; init; }

    public double? YMin { get; init; }

    public double? YMax { get; init; }

    public List<ChartSeries> Series { get; } = [];

    public string Render()
    {
        var pts = Series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!XLog || p.X > 0) && (!YLog || p.Y > 0)).ToList();
        var (x0, x1) = Range(pts.Select(p => p.X), XLog, null, null);
        var (y0, y1) = Range(pts.Select(p => p.Y), YLog, YMin, YMax);
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double Sx(double x) => Left + (plotW * Frac(x, x0, x1, XLog));
        double Sy(double y) => Top + plotH - (plotH * Frac(y, y0, y1, YLog));

        var svg = new StringBuilder();
        svg.Append(s_ci, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(s_ci, $"<text x=\"{Width / 2}\" y=\"26\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">{E(Title)}</text>\n");
        if (Subtitle is not null)
        {
            svg.Append(s_ci, $"<text x=\"{Width / 2}\" y=\"46\" text-anchor=\"middle\" fill=\"#555\">{E(Subtitle)}</text>\n");
        }

        // Grid and ticks.
        foreach (var t in Ticks(x0, x1, XLog))
        {
            var x = Sx(t);
            svg.Append(s_ci, $"<line x1=\"{x:F1}\" y1=\"{Top}\" x2=\"{x:F1}\" y2=\"{Top + plotH}\" stroke=\"#e6e6e6\"/>\n");
            svg.Append(s_ci, $"<text x=\"{x:F1}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{Num(t)}</text>\n");
        }

        foreach (var t in Ticks(y0, y1, YLog))
        {
            var y = Sy(t);
            svg.Append(s_ci, $"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Left + plotW}\" y2=\"{y:F1}\" stroke=\"#e6e6e6\"/>\n");
            svg.Append(s_ci, $"<text x=\"{Left - 8}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{Num(t)}</text>\n");
        }

        svg.Append(s_ci, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#333\"/>\n");
        svg.Append(s_ci, $"<text x=\"{Left + (plotW / 2)}\" y=\"{Height - 22}\" text-anchor=\"middle\" font-size=\"13\">{E(XLabel)}</text>\n");
        svg.Append(s_ci, $"<text transform=\"translate(24 {Top + (plotH / 2)}) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">{E(YLabel)}</text>\n");

        // Series.
        foreach (var s in Series)
        {
            var visible = s.Points.Select((p, i) => (p, i)).Where(q => double.IsFinite(q.p.X) && double.IsFinite(q.p.Y) && (!XLog || q.p.X > 0) && (!YLog || q.p.Y > 0)).ToList();
            if (s.Line && visible.Count > 1)
            {
                svg.Append(s_ci, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"2\" points=\"");
                foreach (var (p, _) in visible)
                {
                    svg.Append(s_ci, $"{Sx(p.X):F1},{Sy(p.Y):F1} ");
                }

                svg.Append("\"/>\n");
            }

            if (!s.Line)
            {
                foreach (var (p, i) in visible)
                {
                    svg.Append(MarkerAt(s.Marker, Sx(p.X), Sy(p.Y), s.Color));
                    if (s.Labels is { } labels && i < labels.Count)
                    {
                        svg.Append(s_ci, $"<text x=\"{Sx(p.X) + 7:F1}\" y=\"{Sy(p.Y) - 6:F1}\" font-size=\"10\" fill=\"#333\">{E(labels[i])}</text>\n");
                    }
                }
            }
        }

        // Legend.
        var ly = Top + 10;
        svg.Append(s_ci, $"<text x=\"{Left + plotW + 16}\" y=\"{ly}\" font-weight=\"bold\">Legend</text>\n");
        foreach (var s in Series)
        {
            ly += 20;
            var lx = Left + plotW + 16;
            svg.Append(s.Line
                ? string.Create(s_ci, $"<line x1=\"{lx}\" y1=\"{ly - 4}\" x2=\"{lx + 22}\" y2=\"{ly - 4}\" stroke=\"{s.Color}\" stroke-width=\"3\"/>\n")
                : MarkerAt(s.Marker, lx + 11, ly - 4, s.Color));
            svg.Append(s_ci, $"<text x=\"{lx + 30}\" y=\"{ly}\">{E(s.Name)}</text>\n");
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string MarkerAt(string marker, double x, double y, string color) => marker switch
    {
        "square" => string.Create(s_ci, $"<rect x=\"{x - 5:F1}\" y=\"{y - 5:F1}\" width=\"10\" height=\"10\" fill=\"{color}\"/>\n"),
        "triangle" => string.Create(s_ci, $"<polygon points=\"{x:F1},{y - 6:F1} {x - 6:F1},{y + 5:F1} {x + 6:F1},{y + 5:F1}\" fill=\"{color}\"/>\n"),
        "diamond" => string.Create(s_ci, $"<polygon points=\"{x:F1},{y - 6:F1} {x - 6:F1},{y:F1} {x:F1},{y + 6:F1} {x + 6:F1},{y:F1}\" fill=\"{color}\"/>\n"),
        _ => string.Create(s_ci, $"<circle cx=\"{x:F1}\" cy=\"{y:F1}\" r=\"5\" fill=\"{color}\"/>\n"),
    };

    private static (double, double) Range(IEnumerable<double> values, bool log, double? min, double? max)
    {
        var list = values.ToList();
        var lo = min ?? (list.Count > 0 ? list.Min() : 0);
        var hi = max ?? (list.Count > 0 ? list.Max() : 1);
        if (log)
        {
            lo = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(lo, 1e-9))));
            hi = Math.Pow(10, Math.Ceiling(Math.Log10(Math.Max(hi, lo * 10))));
            return (lo, hi <= lo ? lo * 10 : hi);
        }

        if (min is null)
        {
            lo = Math.Min(0, lo);
        }

        if (hi <= lo)
        {
            hi = lo + 1;
        }

        var step = NiceStep((hi - lo) / 5);
        return (Math.Floor(lo / step) * step, max ?? Math.Ceiling(hi / step) * step);
    }

    private static double Frac(double v, double lo, double hi, bool log) =>
        log ? (Math.Log10(v) - Math.Log10(lo)) / (Math.Log10(hi) - Math.Log10(lo)) : (v - lo) / (hi - lo);

    private static IEnumerable<double> Ticks(double lo, double hi, bool log)
    {
        if (log)
        {
            for (var d = lo; d <= hi * 1.0001; d *= 10)
            {
                yield return d;
            }

            yield break;
        }

        var step = NiceStep((hi - lo) / 5);
        for (var t = lo; t <= hi + (step / 1000); t += step)
        {
            yield return t;
        }
    }

    private static double NiceStep(double raw)
    {
        if (raw <= 0 || !double.IsFinite(raw))
        {
            return 1;
        }

        var p = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    }

    private static string Num(double v)
    {
        var a = Math.Abs(v);
        return a switch
        {
            0 => "0",
            >= 1_000_000 => (v / 1_000_000).ToString("0.##", s_ci) + "M",
            >= 10_000 => (v / 1000).ToString("0.##", s_ci) + "k",
            >= 1 => v.ToString("0.##", s_ci),
            _ => v.ToString("0.###", s_ci),
        };
    }

    private static string E(string text) => SecurityElement.Escape(text) ?? string.Empty;
}
