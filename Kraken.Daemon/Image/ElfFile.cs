// Just enough of the ELF format (64-bit, little-endian) to see what a program or library needs at run time, and a kernel module's .modinfo.
using System.Buffers.Binary;
using System.Text;

namespace Kraken.Daemon.Image;

/// <summary>
/// The facts the image builder reads from an ELF file: its interpreter (<c>PT_INTERP</c>, absent in a static
/// program), the shared libraries it names (<c>DT_NEEDED</c>), and the <c>.modinfo</c> strings of a kernel module.
/// Anything else in the file is ignored; a file that is not 64-bit little-endian ELF is refused by name.
/// </summary>
internal sealed class ElfFile
{
    private const uint PtLoad = 1;
    private const uint PtDynamic = 2;
    private const uint PtInterp = 3;
    private const long DtNull = 0;
    private const long DtNeeded = 1;
    private const long DtStrtab = 5;

    private static readonly byte[] s_magic = [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    private readonly byte[] _data;

    private ElfFile(string path, byte[] data)
    {
        Path = path;
        _data = data;
    }

    public string Path { get; }

    /// <summary>The program interpreter (<c>/lib64/ld-linux-x86-64.so.2</c>), or null for a statically linked file.</summary>
    public string? Interpreter { get; private set; }

    /// <summary>The shared libraries named in the dynamic section, in order.</summary>
    public IReadOnlyList<string> Needed { get; private set; } = [];

    /// <summary>True for a position-dependent or -independent program or library with a dynamic section.</summary>
    public bool IsDynamic { get; private set; }

    public static bool IsElf(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return f.Read(magic) == 4 && magic.SequenceEqual(s_magic);
    }

    public static ElfFile Read(string path)
    {
        var data = File.ReadAllBytes(path);
        var elf = new ElfFile(path, data);
        elf.Parse();
        return elf;
    }

    /// <summary>The NUL-separated <c>key=value</c> strings of the <c>.modinfo</c> section (kernel modules), in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ModuleInfo()
    {
        var section = Section(".modinfo");
        if (section is not { } s)
        {
            return [];
        }

        var result = new List<KeyValuePair<string, string>>();
        foreach (var entry in Encoding.UTF8.GetString(_data, (int)s.Offset, (int)s.Size).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                result.Add(new(entry[..eq], entry[(eq + 1)..]));
            }
        }

        return result;
    }

    private void Parse()
    {
        if (_data.Length < 64 || !_data.AsSpan(0, 4).SequenceEqual(s_magic))
        {
            throw new ImageBuildException($"{Path} is not an ELF file");
        }

        if (_data[4] != 2 || _data[5] != 1)
        {
            throw new ImageBuildException($"{Path} is not a 64-bit little-endian ELF file");
        }

        var phoff = U64(0x20);
        var phentsize = U16(0x36);
        var phnum = U16(0x38);
        var loads = new List<(ulong VAddr, ulong Offset, ulong Size)>();
        (ulong Offset, ulong Size)? dynamic = null;
        for (var i = 0; i < phnum; i++)
        {
            var ph = Checked(phoff + ((ulong)i * phentsize), 56);
            var type = U32(ph);
            var offset = U64(ph + 8);
            var vaddr = U64(ph + 0x10);
            var filesz = U64(ph + 0x20);
            switch (type)
            {
                case PtLoad:
                    loads.Add((vaddr, offset, filesz));
                    break;
                case PtDynamic:
                    dynamic = (offset, filesz);
                    break;
                case PtInterp:
                    Interpreter = CString(Checked(offset, (int)filesz));
                    break;
                default:
                    break;
            }
        }

        if (dynamic is not { } dyn)
        {
            return;
        }

        IsDynamic = true;
        var needed = new List<ulong>();
        ulong? strtab = null;
        for (var at = dyn.Offset; at + 16 <= dyn.Offset + dyn.Size; at += 16)
        {
            var entry = Checked(at, 16);
            var tag = (long)U64(entry);
            var value = U64(entry + 8);
            if (tag == DtNull)
            {
                break;
            }

            if (tag == DtNeeded)
            {
                needed.Add(value);
            }
            else if (tag == DtStrtab)
            {
                strtab = value;
            }
        }

        if (needed.Count == 0)
        {
            return;
        }

        // DT_STRTAB is an address: find the loaded segment that holds it to get its place in the file.
        var table = strtab is { } address && loads.FirstOrDefault(l => address >= l.VAddr && address < l.VAddr + l.Size) is { Size: > 0 } load
            ? load.Offset + (address - load.VAddr)
            : throw new ImageBuildException($"{Path}: the dynamic string table is outside every loaded segment");
        Needed = [.. needed.Select(n => CString(Checked(table + n, 1)))];
    }

    private (ulong Offset, ulong Size)? Section(string name)
    {
        var shoff = U64(0x28);
        var shentsize = U16(0x3A);
        var shnum = U16(0x3C);
        var shstrndx = U16(0x3E);
        if (shoff == 0 || shnum == 0 || shstrndx >= shnum)
        {
            return null;
        }

        var names = U64(Checked(shoff + ((ulong)shstrndx * shentsize), 64) + 0x18);
        for (var i = 0; i < shnum; i++)
        {
            var sh = Checked(shoff + ((ulong)i * shentsize), 64);
            if (CString(Checked(names + U32(sh), 1)) == name)
            {
                var offset = U64(sh + 0x18);
                var size = U64(sh + 0x20);
                Checked(offset, (int)size);
                return (offset, size);
            }
        }

        return null;
    }

    /// <summary>An offset as an index into the file, after checking that <paramref name="length"/> bytes are there.</summary>
    private int Checked(ulong offset, int length) =>
        offset <= (ulong)_data.Length && (ulong)length <= (ulong)_data.Length - offset
            ? (int)offset
            : throw new ImageBuildException($"{Path}: truncated or malformed ELF (offset {offset} is outside the file)");

    private string CString(int at)
    {
        var end = Array.IndexOf(_data, (byte)0, at);
        return Encoding.UTF8.GetString(_data, at, (end < 0 ? _data.Length : end) - at);
    }

    private ushort U16(int at) => BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(Checked((ulong)at, 2)));

    private uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(Checked((ulong)at, 4)));

    private ulong U64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(Checked((ulong)at, 8)));

    private ulong U64(ulong at) => U64(Checked(at, 8));
}
