// A writer of "newc" cpio archives, the format Linux unpacks into its initramfs.
using System.Globalization;
using System.Text;

namespace Kraken.Modules.Pxe;

/// <summary>
/// Writes an SVR4 "newc" archive (magic <c>070701</c>, the format of <c>cpio -H newc</c> and of the kernel's
/// initramfs): per entry a 110-byte header of 13 eight-digit hex fields, the name with its NUL padded to 4 bytes,
/// the data padded to 4 bytes; then the <c>TRAILER!!!</c> entry. Archives may be concatenated, also after a
/// compressed one, and the kernel unpacks each in turn, later entries over earlier ones.
/// </summary>
public sealed class CpioArchive
{
    private const int HeaderSize = 110;
    private const string Trailer = "TRAILER!!!";

    private readonly MemoryStream _stream = new();
    private int _inode = 1;
    private bool _finished;

    /// <summary>The mtime written into every entry (seconds since the epoch); a fixed value keeps archives reproducible.</summary>
    public long ModificationTime { get; init; }

    /// <summary>A directory entry (mode without the type bits, e.g. 0755).</summary>
    public CpioArchive Directory(string path, int mode = 0x1ED)
    {
        Entry(path, 0x4000 | (mode & 0xFFF), 2, []);
        return this;
    }

    /// <summary>A regular file (mode without the type bits, e.g. 0600).</summary>
    public CpioArchive File(string path, ReadOnlySpan<byte> data, int mode = 0x1A4)
    {
        Entry(path, 0x8000 | (mode & 0xFFF), 1, data);
        return this;
    }

    /// <summary>A symbolic link to <paramref name="target"/>.</summary>
    public CpioArchive Symlink(string path, string target)
    {
        Entry(path, 0xA000 | 0x1FF, 1, Encoding.UTF8.GetBytes(target));
        return this;
    }

    /// <summary>Adds the trailer and returns the archive's bytes.</summary>
    public byte[] ToArray()
    {
        if (!_finished)
        {
            _finished = true;
            WriteEntry(Trailer, 0, 0, 1, []);
        }

        return _stream.ToArray();
    }

    /// <summary>Writes the archive with its trailer to <paramref name="destination"/>.</summary>
    public void WriteTo(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        destination.Write(ToArray());
    }

    private void Entry(string path, int mode, int links, ReadOnlySpan<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (_finished)
        {
            throw new InvalidOperationException("The archive is finished.");
        }

        // Names are relative to the archive root, as cpio -H newc writes them ("etc/kraken/bootstrap").
        var name = path.TrimStart('/');
        if (name.Length == 0 || name.Split('/').Any(s => s is "" or "." or ".."))
        {
            throw new ArgumentException($"'{path}' is not a plain relative path.", nameof(path));
        }

        WriteEntry(name, _inode++, mode, links, data);
    }

    private void WriteEntry(string name, int inode, int mode, int links, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(HeaderSize);
        header.Append("070701");
        foreach (var field in new long[] { inode, mode, 0, 0, links, ModificationTime, data.Length, 0, 0, 0, 0, nameBytes.Length + 1, 0 })
        {
            header.Append(field.ToString("X8", CultureInfo.InvariantCulture));
        }

        _stream.Write(Encoding.ASCII.GetBytes(header.ToString()));
        _stream.Write(nameBytes);
        _stream.WriteByte(0);
        Pad();
        _stream.Write(data);
        Pad();
    }

    private void Pad()
    {
        while (_stream.Length % 4 != 0)
        {
            _stream.WriteByte(0);
        }
    }
}
