// Prometheus text exposition format 0.0.4, written as UTF-8 straight into the response's buffer.
using System.Buffers;
using System.Globalization;
using System.Text;

namespace Kraken.Daemon.Metrics.Internal;

/// <summary>
/// Writes families (<c># HELP</c>, <c># TYPE</c>, then samples) into an <see cref="IBufferWriter{T}"/>. Names and
/// label texts come already valid and escaped (<see cref="PrometheusNames"/>); numbers are written in their shortest
/// round-trip form, with <c>+Inf</c>, <c>-Inf</c> and <c>NaN</c> as Prometheus spells them.
/// </summary>
internal readonly struct PrometheusTextWriter(IBufferWriter<byte> output)
{
    public void Family(string name, string type, string help) => Text(Header(name, type, help));

    /// <summary>The <c># HELP</c> and <c># TYPE</c> lines of a family.</summary>
    public static string Header(string name, string type, string help) =>
        $"# HELP {name} {PrometheusNames.EscapeHelp(help)}\n# TYPE {name} {type}\n";

    /// <summary>Text already in the format (a family's header written once).</summary>
    public void Raw(string text) => Text(text);

    /// <summary><c>name{labels} value</c>; <paramref name="labels"/> is the text inside the braces, empty for none.</summary>
    public void Sample(string name, string labels, double value) => Sample(name, null, labels, null, value);

    /// <summary>
    /// <c>name+suffix{labels,extra} value</c>: a histogram's <c>_bucket</c> line carries <c>le="..."</c> as
    /// <paramref name="extra"/> after its point's labels.
    /// </summary>
    public void Sample(string name, string? suffix, string labels, string? extra, double value)
    {
        Text(name);
        if (suffix is not null)
        {
            Text(suffix);
        }

        if (labels.Length > 0 || extra is not null)
        {
            Text("{");
            Text(labels);
            if (extra is not null)
            {
                Text(labels.Length > 0 ? "," : "");
                Text(extra);
            }

            Text("}");
        }

        Text(" ");
        Number(value);
        Text("\n");
    }

    /// <summary>The <c>le</c> label of a bucket bound.</summary>
    public static string Le(double bound) => $"le=\"{Format(bound)}\"";

    public static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString(CultureInfo.InvariantCulture);

    private void Number(double value)
    {
        if (!double.IsFinite(value))
        {
            Text(Format(value));
            return;
        }

        var span = output.GetSpan(32);
        if (!value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture))
        {
            Text(Format(value));
            return;
        }

        output.Advance(written);
    }

    private void Text(string text)
    {
        if (text.Length == 0)
        {
            return;
        }

        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
