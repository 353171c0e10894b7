// The newc writer: its header byte for byte, its padding for every name and data length, and GNU cpio reading it back.
using System.Text;
using Kraken.Daemon.Image;
using Kraken.Daemon.Tests.Pxe;

namespace Kraken.Daemon.Tests.Image;

public sealed class CpioWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-cpio-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_file_entry_is_the_newc_header_the_name_and_the_data_each_padded_to_four_bytes()
    {
        using var ms = new MemoryStream();
        using (var cpio = new CpioWriter(ms, modificationTime: 0x5f5e1000, leaveOpen: true))
        {
            cpio.AddFile("x", "hello"u8, permissions: 0x1A4);
        }

        var bytes = ms.ToArray();
        // magic, ino 1, mode 0100644, uid, gid, nlink 1, mtime, size 5, dev 0:0, rdev 0:0, namesize 2 ("x\0"), check 0.
        var header = "070701" + "00000001" + "000081a4" + "00000000" + "00000000" + "00000001" + "5f5e1000" + "00000005"
            + "00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000";
        Assert.Equal(110, header.Length);
        Assert.Equal(header, Encoding.ASCII.GetString(bytes, 0, 110));
        Assert.Equal("x\0", Encoding.ASCII.GetString(bytes, 110, 2));            // 112: already a multiple of 4
        Assert.Equal("hello\0\0\0", Encoding.ASCII.GetString(bytes, 112, 8));    // 5 bytes of data, 3 of padding
        var trailer = Encoding.ASCII.GetString(bytes, 120, bytes.Length - 120);
        Assert.StartsWith("070701", trailer, StringComparison.Ordinal);
        Assert.Contains("TRAILER!!!\0", trailer, StringComparison.Ordinal);
        Assert.Equal(0, bytes.Length % 4);
    }

    [Fact]
    public void Every_entry_starts_on_a_four_byte_boundary_whatever_the_name_and_data_lengths()
    {
        using var ms = new MemoryStream();
        using (var cpio = new CpioWriter(ms, 0, leaveOpen: true))
        {
            for (var name = 1; name <= 9; name++)
            {
                for (var data = 0; data <= 9; data++)
                {
                    cpio.AddFile(new string((char)('a' + name - 1), name) + data, new byte[data]);
                }
            }
        }

        var bytes = ms.ToArray();
        var offset = 0;
        var entries = 0;
        while (true)
        {
            Assert.Equal(0, offset % 4);
            Assert.Equal("070701", Encoding.ASCII.GetString(bytes, offset, 6));
            var size = Convert.ToInt32(Encoding.ASCII.GetString(bytes, offset + 54, 8), 16);
            var nameSize = Convert.ToInt32(Encoding.ASCII.GetString(bytes, offset + 94, 8), 16);
            var name = Encoding.ASCII.GetString(bytes, offset + 110, nameSize - 1);
            if (name == "TRAILER!!!")
            {
                break;
            }

            entries++;
            Assert.Equal(int.Parse(name[^1..], System.Globalization.CultureInfo.InvariantCulture), size);
            offset = Align(Align(offset + 110 + nameSize) + size);
        }

        Assert.Equal(90, entries);
    }

    [Fact]
    public void Paths_must_be_relative_normalized_and_unique()
    {
        using var cpio = new CpioWriter(new MemoryStream(), 0);
        cpio.AddDirectory("bin");
        Assert.Throws<ArgumentException>(() => cpio.AddDirectory("bin"));
        Assert.Throws<ArgumentException>(() => cpio.AddFile("/etc/passwd", []));
        Assert.Throws<ArgumentException>(() => cpio.AddFile("bin/../x", []));
        Assert.Throws<ArgumentException>(() => cpio.AddFile("TRAILER!!!", []));
    }

    [Fact]
    [Trait("Category", "Interop")]
    public void Gnu_cpio_lists_and_extracts_what_we_wrote()
    {
        var archive = Path.Combine(_dir, "test.cpio");
        var content = Enumerable.Range(0, 1001).Select(i => (byte)(i * 7)).ToArray();
        using (var cpio = new CpioWriter(File.Create(archive), 1_700_000_000))
        {
            cpio.AddDirectory("bin");
            cpio.AddFile("bin/tool", content, 0x1ED);
            cpio.AddSymlink("bin/link", "/bin/tool");
            cpio.AddDirectory("tmp", 0x3FF);       // 1777: sticky, as /tmp is
            cpio.AddDirectory("dev");
            cpio.AddCharDevice("dev/console", 5, 1, 0x180);
            cpio.AddFile("empty", []);
        }

        var (exit, listing) = Command.Run("sh", ["-c", $"cpio -tv --quiet < '{archive}'"]);
        Assert.True(exit == 0, listing);
        var lines = listing.Split('\n');
        Assert.Equal(7, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("-rwxr-xr-x", StringComparison.Ordinal) && l.Contains(" 1001 ", StringComparison.Ordinal) && l.EndsWith("bin/tool", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("lrwxrwxrwx", StringComparison.Ordinal) && l.EndsWith("bin/link -> /bin/tool", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("drwxrwxrwt", StringComparison.Ordinal) && l.EndsWith("tmp", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("crw-------", StringComparison.Ordinal) && l.Contains("5,", StringComparison.Ordinal) && l.EndsWith("dev/console", StringComparison.Ordinal));

        // Extract everything but the device (mknod needs root): the file's bytes and the link's target survive.
        var into = Path.Combine(_dir, "out");
        Directory.CreateDirectory(into);
        (exit, var output) = Command.Run("sh", ["-c", $"cd '{into}' && cpio -idm --quiet --no-absolute-filenames 'bin/*' empty < '{archive}'"]);
        Assert.True(exit == 0, output);
        Assert.Equal(content, File.ReadAllBytes(Path.Combine(into, "bin", "tool")));
        Assert.Equal("/bin/tool", new FileInfo(Path.Combine(into, "bin", "link")).LinkTarget);
        Assert.Empty(File.ReadAllBytes(Path.Combine(into, "empty")));
        Assert.Equal(1_700_000_000, new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(into, "bin", "tool"))).ToUnixTimeSeconds());
    }

    private static int Align(int n) => (n + 3) & ~3;
}
