// A writer for the "newc" cpio format (SVR4 without CRC), the archive format the kernel unpacks as an initramfs.
using System.Buffers;
using System.Globalization;
using System.Text;

namespace Kraken.Daemon.Image;

/// <summary>
/// Writes a newc archive entry by entry: a 110-byte ASCII header (magic <c>070701</c> and thirteen 8-digit
/// hexadecimal fields), the NUL-terminated name, the data, each padded to 4 bytes, and a <c>TRAILER!!!</c> entry
/// at the end. Names are relative (<c>bin/busybox</c>); owners are root; a directory must be written before what
/// it holds, which is the caller's order.
/// </summary>
public sealed class CpioWriter : IDisposable
{
    /// <summary>File type bits of the mode field (as in stat(2)).</summary>
    public const int TypeDirectory = 0x4000;      // S_IFDIR  0040000
    public const int TypeRegular = 0x8000;        // S_IFREG  0100000
    public const int TypeSymlink = 0xA000;        // S_IFLNK  0120000
    public const int TypeCharDevice = 0x2000;     // S_IFCHR  0020000

    private const string Magic = "070701";
    private const string Trailer = "TRAILER!!!";
    private const int HeaderLength = 110;

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly long _mtime;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private uint _inode = 1;
    private long _written;
    private bool _finished;

    /// <param name="output">Where the archive goes (a gzip stream for an initramfs).</param>
    /// <param name="modificationTime">The mtime of every entry, in seconds since the epoch.</param>
    /// <param name="leaveOpen">Keep <paramref name="output"/> open after <see cref="Dispose"/>.</param>
    public CpioWriter(Stream output, long modificationTime, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(modificationTime);
        _output = output;
        _mtime = modificationTime;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes of archive written so far (before any compression).</summary>
    public long Length => _written;

    /// <summary>Entries written so far, the trailer excluded.</summary>
    public int Count => _names.Count;

    public void AddDirectory(string name, int permissions = 0x1ED /* 0755 */) =>
        WriteEntry(name, TypeDirectory | permissions, nlink: 2, ReadOnlySpan<byte>.Empty, rdevMajor: 0, rdevMinor: 0);

    public void AddFile(string name, ReadOnlySpan<byte> content, int permissions = 0x1A4 /* 0644 */) =>
        WriteEntry(name, TypeRegular | permissions, nlink: 1, content, rdevMajor: 0, rdevMinor: 0);

    /// <summary>A symbolic link; its data is the target path (no terminating NUL).</summary>
    public void AddSymlink(string name, string target) =>
        WriteEntry(name, TypeSymlink | 0x1FF /* 0777 */, nlink: 1, Encoding.UTF8.GetBytes(target), rdevMajor: 0, rdevMinor: 0);

    public void AddCharDevice(string name, int major, int minor, int permissions = 0x180 /* 0600 */) =>
        WriteEntry(name, TypeCharDevice | permissions, nlink: 1, ReadOnlySpan<byte>.Empty, major, minor);

    /// <summary>Writes the trailer; nothing may be added after it.</summary>
    public void Finish()
    {
        if (!_finished)
        {
            WriteRaw(Trailer, mode: 0, nlink: 1, ReadOnlySpan<byte>.Empty, 0, 0, inode: 0);
            _finished = true;
            _output.Flush();
        }
    }

    public void Dispose()
    {
        Finish();
        if (!_leaveOpen)
        {
            _output.Dispose();
        }
    }

    private void WriteEntry(string name, int mode, int nlink, ReadOnlySpan<byte> data, int rdevMajor, int rdevMinor)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.StartsWith('/') || name.EndsWith('/') || name == Trailer || name.Split('/').Any(p => p is "" or "." or ".."))
        {
            throw new ArgumentException($"'{name}' is not a relative archive path", nameof(name));
        }

        if (!_names.Add(name))
        {
            throw new ArgumentException($"'{name}' is already in the archive", nameof(name));
        }

        WriteRaw(name, mode, nlink, data, rdevMajor, rdevMinor, _inode++);
    }

    private void WriteRaw(string name, int mode, int nlink, ReadOnlySpan<byte> data, int rdevMajor, int rdevMinor, uint inode)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(HeaderLength, HeaderLength).Append(Magic);
        void Field(long value) => header.Append(((uint)value).ToString("x8", CultureInfo.InvariantCulture));
        Field(inode);
        Field(mode);
        Field(0);                       // uid
        Field(0);                       // gid
        Field(nlink);
        Field(_mtime);
        Field(data.Length);             // filesize
        Field(0);                       // devmajor
        Field(0);                       // devminor
        Field(rdevMajor);
        Field(rdevMinor);
        Field(nameBytes.Length + 1);    // namesize, with the NUL
        Field(0);                       // check (newc has none)

        var headerAndName = HeaderLength + nameBytes.Length + 1;
        var buffer = ArrayPool<byte>.Shared.Rent(headerAndName + 3);
        try
        {
            Encoding.ASCII.GetBytes(header.ToString(), buffer);
            nameBytes.CopyTo(buffer, HeaderLength);
            var padded = Align4(headerAndName);
            buffer.AsSpan(HeaderLength + nameBytes.Length, padded - HeaderLength - nameBytes.Length).Clear();
            _output.Write(buffer, 0, padded);
            _output.Write(data);
            var dataPadding = Align4(data.Length) - data.Length;
            Span<byte> zeros = stackalloc byte[3];
            zeros.Clear();
            _output.Write(zeros[..dataPadding]);
            _written += padded + data.Length + dataPadding;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int Align4(int n) => (n + 3) & ~3;
}
