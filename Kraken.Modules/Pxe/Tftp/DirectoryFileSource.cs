// Serves files from one directory tree, confined to it: no "..", nothing outside through symlinks.
using System.Net;
using System.Runtime.InteropServices;

namespace Kraken.Modules.Pxe.Tftp;

/// <summary>
/// Serves files under a root directory. Leading slashes are stripped (PXE ROMs send "/pxelinux.0") and
/// backslashes read as separators; a path with a ".." segment or a control character is refused, and so is
/// any path whose real location (symlinks resolved) is not inside the root's real location.
/// </summary>
public sealed class DirectoryFileSource : ITftpFileSource
{
    private readonly string _root;
    private readonly string _rootPrefix;

    public DirectoryFileSource(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var full = Path.GetFullPath(root);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"TFTP root '{full}' does not exist.");
        }

        _root = RealPath(full) ?? full;
        _rootPrefix = _root.EndsWith('/') ? _root : _root + "/";
    }

    /// <summary>The root's real path (symlinks resolved).</summary>
    public string Root => _root;

    public ValueTask<TftpFile?> OpenAsync(string path, IPEndPoint client, CancellationToken cancellationToken)
    {
        var relative = Normalize(path);
        var candidate = Path.Join(_root, relative);
        var real = RealPath(candidate);
        if (real is null)
        {
            return ValueTask.FromResult<TftpFile?>(null);   // does not exist (or a dangling link)
        }

        if (!IsInside(real))
        {
            throw new TftpAccessException("outside the TFTP root");
        }

        if (Directory.Exists(real))
        {
            throw new TftpAccessException("is a directory");
        }

        FileStream stream;
        try
        {
            // bufferSize 0: every read is one positional read into the caller's (pooled) buffer.
            stream = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        }
        catch (FileNotFoundException)
        {
            return ValueTask.FromResult<TftpFile?>(null);
        }
        catch (DirectoryNotFoundException)
        {
            return ValueTask.FromResult<TftpFile?>(null);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TftpAccessException("permission denied", e);
        }

        // The file opened may differ from the one checked if the tree changed in between: check what was opened.
        var opened = OpenedPath(stream);
        if (opened is not null && !IsInside(opened))
        {
            stream.Dispose();
            throw new TftpAccessException("outside the TFTP root");
        }

        return ValueTask.FromResult<TftpFile?>(new TftpFile(stream, stream.Length));
    }

    /// <summary>The request path relative to the root; throws <see cref="TftpAccessException"/> for an escape.</summary>
    internal static string Normalize(string path)
    {
        var p = path.Replace('\\', '/').TrimStart('/');
        if (p.Length == 0)
        {
            throw new TftpAccessException("empty path");
        }

        foreach (var c in p)
        {
            if (char.IsControl(c))
            {
                throw new TftpAccessException("control character in path");
            }
        }

        foreach (var segment in p.Split('/'))
        {
            if (segment == "..")
            {
                throw new TftpAccessException("'..' in path");
            }
        }

        return p;
    }

    private bool IsInside(string real) => real.StartsWith(_rootPrefix, StringComparison.Ordinal);

    private static string? OpenedPath(FileStream stream)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var fd = stream.SafeFileHandle.DangerousGetHandle().ToInt64();
        return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
    }

    private static string? RealPath(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return File.Exists(path) || Directory.Exists(path) ? Path.GetFullPath(path) : null;
        }

        var resolved = realpath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
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
    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern IntPtr realpath(string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);
#pragma warning restore SYSLIB1054
}
