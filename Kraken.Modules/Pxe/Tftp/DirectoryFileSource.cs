// Serves files from one directory tree, confined to it: no "..", nothing outside through symlinks.
using System.Net;

namespace Kraken.Modules.Pxe.Tftp;

/// <summary>
/// Serves files under a root directory. Leading slashes are stripped (PXE ROMs send "/pxelinux.0") and
/// backslashes read as separators; a path with a ".." segment or a control character is refused, and so is
/// any path whose real location (symlinks resolved) is not inside the root's real location
/// (<see cref="ConfinedDirectory"/>).
/// </summary>
public sealed class DirectoryFileSource : ITftpFileSource
{
    private readonly ConfinedDirectory _root;

    public DirectoryFileSource(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        _root = new ConfinedDirectory(root, "TFTP root");
    }

    /// <summary>The root's real path (symlinks resolved).</summary>
    public string Root => _root.Root;

    public ValueTask<TftpFile?> OpenAsync(string path, IPEndPoint client, CancellationToken cancellationToken)
    {
        switch (_root.Resolve(Normalize(path), out var real))
        {
            case ConfinedDirectory.Lookup.Missing or ConfinedDirectory.Lookup.Loop:
                return ValueTask.FromResult<TftpFile?>(null);   // does not exist (or a dangling or looping link)
            case ConfinedDirectory.Lookup.Outside:
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
        if (!_root.ContainsOpened(stream))
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
}
