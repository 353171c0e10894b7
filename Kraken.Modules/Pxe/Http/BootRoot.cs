// Maps request paths to files under one directory, refusing anything that would leave it.
namespace Kraken.Modules.Pxe.Http;

/// <summary>
/// The boot root: a directory whose files are served. A request path must be plain (no <c>.</c> or <c>..</c>
/// segments, no backslash, no NUL), and its real location, every symbolic link resolved, must lie inside the
/// root's (<see cref="ConfinedDirectory"/>): no absolute paths, no link pointing outside, no link cycle.
/// </summary>
public sealed class BootRoot
{
    private readonly ConfinedDirectory _root;

    public BootRoot(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        _root = new ConfinedDirectory(directory, "Boot root");
    }

    /// <summary>The root with every link resolved.</summary>
    public string FullPath => _root.Root;

    /// <summary>What a lookup found.</summary>
    public enum Result
    {
        Found,
        NotFound,
        Refused,
    }

    /// <summary>Resolves <paramref name="requestPath"/> (a URL path, already percent-decoded) to a file inside the root.</summary>
    public Result TryResolve(string requestPath, out string file)
    {
        file = "";
        if (requestPath.Contains('\0', StringComparison.Ordinal) || requestPath.Contains('\\', StringComparison.Ordinal))
        {
            return Result.Refused;
        }

        var parts = requestPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            return Result.NotFound;
        }

        if (parts.Any(part => part is "." or ".."))
        {
            return Result.Refused;
        }

        switch (_root.Resolve(string.Join('/', parts), out var real))
        {
            case ConfinedDirectory.Lookup.Missing:
                return Result.NotFound;
            case ConfinedDirectory.Lookup.Outside or ConfinedDirectory.Lookup.Loop:
                return Result.Refused;
        }

        if (!File.Exists(real))
        {
            return Result.NotFound;
        }

        file = real;
        return Result.Found;
    }
}
