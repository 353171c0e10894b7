// One directory tree and the rule every boot server applies to it: a path is served only if its real location
// (every symbolic link resolved by the kernel) lies inside the tree's real location.
using System.Runtime.InteropServices;

namespace Kraken.Modules.Pxe;

/// <summary>
/// A directory whose files may be served, and nothing outside it: TFTP (<see cref="Tftp.DirectoryFileSource"/>)
/// and HTTP boot (<see cref="Http.BootRoot"/>) check request paths through it, each after its own syntax rules.
/// </summary>
public sealed class ConfinedDirectory
{
    private const int Eloop = 40;
    private readonly string _prefix;

    /// <param name="directory">The directory; it must exist.</param>
    /// <param name="what">How errors name it, e.g. "TFTP root".</param>
    public ConfinedDirectory(string directory, string what)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"{what} '{full}' does not exist.");
        }

        Root = RealPath(full, out _) ?? full;
        _prefix = Root.EndsWith('/') ? Root : Root + "/";
    }

    /// <summary>What <see cref="Resolve"/> found.</summary>
    public enum Lookup
    {
        /// <summary>The path exists inside the root.</summary>
        Inside,

        /// <summary>Nothing is there (or a link dangles).</summary>
        Missing,

        /// <summary>The path's real location is outside the root.</summary>
        Outside,

        /// <summary>The path runs into a cycle of symbolic links.</summary>
        Loop,
    }

    /// <summary>The root's real path (symbolic links resolved).</summary>
    public string Root { get; }

    /// <summary>Resolves <paramref name="relative"/> (already checked for syntax by the caller) under the root.</summary>
    public Lookup Resolve(string relative, out string real)
    {
        real = "";
        var resolved = RealPath(Path.Join(Root, relative), out var errno);
        if (resolved is null)
        {
            return errno == Eloop ? Lookup.Loop : Lookup.Missing;
        }

        real = resolved;
        return Contains(resolved) ? Lookup.Inside : Lookup.Outside;
    }

    /// <summary>True when a real path lies strictly inside the root.</summary>
    public bool Contains(string real) => real.StartsWith(_prefix, StringComparison.Ordinal);

    /// <summary>
    /// True when the file <paramref name="stream"/> has open lies inside the root: the tree may change between
    /// <see cref="Resolve"/> and the open, so a server checks what it actually opened.
    /// </summary>
    public bool ContainsOpened(FileStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        var fd = stream.SafeFileHandle.DangerousGetHandle().ToInt64();
        return new FileInfo($"/proc/self/fd/{fd}").LinkTarget is not { } opened || Contains(opened);
    }

    private static string? RealPath(string path, out int errno)
    {
        errno = 0;
        if (OperatingSystem.IsWindows())
        {
            return File.Exists(path) || Directory.Exists(path) ? Path.GetFullPath(path) : null;
        }

        var resolved = realpath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            free(resolved);
        }
    }

#pragma warning disable SYSLIB1054 // DllImport keeps the project free of unsafe code; strings are UTF-8 on Unix.
    [DllImport("libc", CharSet = CharSet.Ansi, SetLastError = true)]
    private static extern IntPtr realpath(string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);
#pragma warning restore SYSLIB1054
}
