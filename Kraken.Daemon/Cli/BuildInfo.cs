// What this kraken is: its version and how it was built (NativeAOT, single-file or JIT), for "kraken --version".
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kraken.Daemon.Cli;

internal static class BuildInfo
{
    /// <summary>The informational version (<c>1.0.0+commit</c>).</summary>
    public static string Version =>
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>
    /// <c>aot</c>: one native file, no JIT; <c>single-file</c>: the runtime and assemblies bundled into the executable;
    /// <c>jit</c>: kraken.dll on a shared .NET runtime. A bundle is told from a plain JIT build by its missing kraken.dll.
    /// </summary>
    public static string Kind =>
        !RuntimeFeature.IsDynamicCodeSupported ? "aot"
        : File.Exists(Path.Combine(AppContext.BaseDirectory, "kraken.dll")) ? "jit"
        : "single-file";

    /// <summary>"kraken 1.0.0+abc (aot, linux-x64, .NET 10.0.0)": what <c>kraken --version</c> prints.</summary>
    public static string Line => $"kraken {Version} ({Kind}, {RuntimeInformation.RuntimeIdentifier}, .NET {Environment.Version})";

    /// <summary>The build kind in a <see cref="Line"/>, or null.</summary>
    public static string? KindOf(string line)
    {
        var open = line.IndexOf('(', StringComparison.Ordinal);
        if (open < 0)
        {
            return null;
        }

        var end = line.IndexOfAny([',', ')'], open);
        return end > open + 1 ? line[(open + 1)..end].Trim() : null;
    }
}
