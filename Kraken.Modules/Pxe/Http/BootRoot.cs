// Maps request paths to files under one directory, refusing anything that would leave it.
namespace Kraken.Modules.Pxe.Http;

/// <summary>
/// The boot root: a directory whose files are served. A path is resolved component by component, following
/// symbolic links, and refused as soon as it leaves the (resolved) root: no <c>..</c>, no absolute paths, no
/// link pointing outside.
/// </summary>
public sealed class BootRoot
{
    private const int MaxLinks = 40;

    public BootRoot(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Boot root '{directory}' does not exist.");
        }

        var budget = MaxLinks;
        FullPath = Resolve(Path.GetFullPath(directory), ref budget);
    }

    /// <summary>The root with every link resolved.</summary>
    public string FullPath { get; }

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

        var current = FullPath;
        var budget = MaxLinks;
        foreach (var part in parts)
        {
            if (part is "." or "..")
            {
                return Result.Refused;
            }

            try
            {
                current = Follow(Path.Join(current, part), ref budget);
            }
            catch (IOException)
            {
                return Result.Refused;
            }

            if (!Inside(current))
            {
                return Result.Refused;
            }
        }

        if (!File.Exists(current))
        {
            return Result.NotFound;
        }

        file = current;
        return Result.Found;
    }

    private bool Inside(string path) =>
        path.Length > FullPath.Length
        && path.StartsWith(FullPath, StringComparison.Ordinal)
        && (FullPath.EndsWith('/') || path[FullPath.Length] == '/');

    private static string Follow(string path, ref int budget)
    {
        // Follows a chain of links at this component; relative targets are taken from the link's directory.
        // One budget covers the whole resolution, so a link cycle ends in an error instead of recursing for ever.
        while (true)
        {
            FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
            if (info.LinkTarget is not { } target)
            {
                return path;
            }

            if (--budget < 0)
            {
                throw new IOException($"Too many levels of symbolic links at '{path}'.");
            }

            path = Resolve(Path.IsPathRooted(target) ? target : Path.Join(Path.GetDirectoryName(path), target), ref budget);
        }
    }

    private static string Resolve(string absolute, ref int budget)
    {
        var parts = absolute.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        foreach (var part in parts)
        {
            current = part switch
            {
                "." => current,
                ".." => Path.GetDirectoryName(current) ?? "/",
                _ => Follow(Path.Join(current, part), ref budget),
            };
        }

        return current;
    }
}
