// The ELF reader and the library closure, checked against the dynamic loader's own answer (ld.so --list).
using Kraken.Daemon.Image;
using Kraken.Daemon.Tests.Pxe;

namespace Kraken.Daemon.Tests.Image;

public sealed class ElfTests
{
    private const string Loader = "/lib64/ld-linux-x86-64.so.2";

    [Fact]
    [Trait("Category", "Interop")]
    public void The_library_closure_of_a_program_is_what_the_dynamic_loader_loads()
    {
        // The dotnet host: a C++ program with a handful of libraries, present wherever these tests run.
        var program = Environment.ProcessPath!;
        var elf = ElfFile.Read(program);
        Assert.Equal(Loader, elf.Interpreter);
        Assert.Contains("libc.so.6", elf.Needed);

        var (exit, listing) = Command.Run(Loader, ["--list", program]);
        Assert.True(exit == 0, listing);
        // "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "\t/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO is no file.
        var expected = listing.Split('\n')
            .Select(l => l.Trim())
            .Where(l => !l.StartsWith("linux-vdso", StringComparison.Ordinal))
            .Select(l => l.Contains("=>", StringComparison.Ordinal) ? l.Split("=>")[1].Trim() : l)
            .Select(l => l.Split(' ')[0]);
        var ours = SharedLibraries.Closure([program], []);
        Assert.Equal(Real(expected), Real(ours));
    }

    [Fact]
    [Trait("Category", "Interop")]
    public void Busybox_static_has_no_interpreter_and_no_libraries()
    {
        var busybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.First(File.Exists);
        var elf = ElfFile.Read(busybox);
        Assert.Null(elf.Interpreter);
        Assert.False(elf.IsDynamic);
        Assert.Empty(elf.Needed);
    }

    [Fact]
    public void A_file_that_is_not_elf_is_refused_by_name()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "#!/bin/sh\necho not elf\n");
            Assert.False(ElfFile.IsElf(path));
            var ex = Assert.Throws<ImageBuildException>(() => ElfFile.Read(path));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The distinct canonical paths (directory links resolved too, as realpath(1) does), sorted.</summary>
    private static string[] Real(IEnumerable<string> paths)
    {
        var (exit, output) = Command.Run("realpath", ["-e", .. paths]);
        Assert.True(exit == 0, output);
        return [.. output.Split('\n').Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }
}
