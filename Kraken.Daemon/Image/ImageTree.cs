// The initramfs's file tree as the builder assembles it, written out as one gzip'd newc cpio archive.
using System.IO.Compression;

namespace Kraken.Daemon.Image;

/// <summary>
/// Paths in the image (absolute, <c>/bin/busybox</c>) mapped to what they are: directories, files (with their
/// content's source), symbolic links and device nodes. Parents are created as needed; adding the same path twice
/// with different content is an error, the same content twice is not.
/// </summary>
internal sealed class ImageTree
{
    private readonly SortedDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private abstract record Entry(string Category);

    private sealed record DirectoryEntry(int Permissions) : Entry("directories");

    private sealed record FileEntry(string? HostPath, byte[]? Content, int Permissions, string Category) : Entry(Category)
    {
        public long Length => Content?.LongLength ?? new FileInfo(HostPath!).Length;
    }

    private sealed record SymlinkEntry(string Target) : Entry("links");

    private sealed record DeviceEntry(int Major, int Minor, int Permissions) : Entry("devices");

    public int Count => _entries.Count;

    /// <summary>Bytes of file content by category (kraken, libraries, busybox, modules, init...).</summary>
    public IReadOnlyDictionary<string, long> SizeByCategory =>
        _entries.Values.OfType<FileEntry>().GroupBy(f => f.Category).ToDictionary(g => g.Key, g => g.Sum(f => f.Length), StringComparer.Ordinal);

    public void AddDirectory(string path, int permissions = 0x1ED /* 0755 */)
    {
        path = Normalize(path);
        if (_entries.TryGetValue(path, out var existing))
        {
            if (existing is not DirectoryEntry)
            {
                throw new ImageBuildException($"image path {path} is both a directory and a {existing.GetType().Name}");
            }

            _entries[path] = new DirectoryEntry(permissions);
            return;
        }

        AddParents(path);
        _entries[path] = new DirectoryEntry(permissions);
    }

    public void AddFile(string path, byte[] content, int permissions, string category) =>
        Add(path, new FileEntry(null, content, permissions, category));

    /// <summary>A copy of the host's regular file <paramref name="hostPath"/>, with its permission bits.</summary>
    public void AddHostFile(string path, string hostPath, string category)
    {
        // The image is a Linux initramfs, built on Linux; elsewhere files get rwxr-xr-x.
        var mode = OperatingSystem.IsWindows() ? 0x1ED : (int)File.GetUnixFileMode(hostPath) & 0xFFF;
        Add(path, new FileEntry(hostPath, null, mode, category));
    }

    public void AddSymlink(string path, string target) => Add(path, new SymlinkEntry(target));

    public void AddCharDevice(string path, int major, int minor, int permissions) => Add(path, new DeviceEntry(major, minor, permissions));

    /// <summary>
    /// Copies <paramref name="hostPath"/> to the same path in the image; a symbolic link is copied as a link, then
    /// what it points to (a relative target that leaves its directory becomes absolute, since the image's directories
    /// need not be laid out as the host's).
    /// </summary>
    public void CopyFromHost(string hostPath, string category)
    {
        for (var hops = 0; hops < 16; hops++)
        {
            var info = new FileInfo(hostPath);
            if (info.LinkTarget is not { } target)
            {
                AddHostFile(hostPath, hostPath, category);
                return;
            }

            var directory = Path.GetDirectoryName(hostPath)!;
            var resolved = Path.GetFullPath(target, directory);
            AddSymlink(hostPath, target.Contains('/', StringComparison.Ordinal) && !target.StartsWith('/') ? resolved : target);
            hostPath = resolved;
        }

        throw new ImageBuildException($"{hostPath}: too many levels of symbolic links");
    }

    /// <summary>Writes the archive, gzip-compressed; the archive's size before compression.</summary>
    public long WriteCpioGzip(Stream output, long modificationTime)
    {
        using var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true);
        using var cpio = new CpioWriter(gzip, modificationTime, leaveOpen: true);
        foreach (var (path, entry) in _entries)
        {
            var name = path[1..];
            switch (entry)
            {
                case DirectoryEntry d:
                    cpio.AddDirectory(name, d.Permissions);
                    break;
                case FileEntry f:
                    cpio.AddFile(name, f.Content ?? File.ReadAllBytes(f.HostPath!), f.Permissions);
                    break;
                case SymlinkEntry s:
                    cpio.AddSymlink(name, s.Target);
                    break;
                case DeviceEntry c:
                    cpio.AddCharDevice(name, c.Major, c.Minor, c.Permissions);
                    break;
                default:
                    throw new InvalidOperationException($"unknown entry {entry}");
            }
        }

        cpio.Finish();
        return cpio.Length;
    }

    private void Add(string path, Entry entry)
    {
        path = Normalize(path);
        if (_entries.TryGetValue(path, out var existing))
        {
            if (existing == entry || (existing is FileEntry a && entry is FileEntry b && a.HostPath == b.HostPath && a.HostPath is not null))
            {
                return;
            }

            throw new ImageBuildException($"image path {path} is added twice with different content");
        }

        AddParents(path);
        _entries[path] = entry;
    }

    private void AddParents(string path)
    {
        var parent = Path.GetDirectoryName(path);
        if (parent is null or "/")
        {
            return;
        }

        if (!_entries.TryGetValue(parent, out var existing))
        {
            AddDirectory(parent);
        }
        else if (existing is not DirectoryEntry)
        {
            throw new ImageBuildException($"image path {parent} must be a directory to hold {path}");
        }
    }

    private static string Normalize(string path) =>
        path.StartsWith('/') && !path.EndsWith('/') && !path.Contains("//", StringComparison.Ordinal) && !path.Split('/').Skip(1).Any(p => p is "." or "..")
            ? path
            : throw new ImageBuildException($"'{path}' is not a normalized absolute image path");
}
