// The shared libraries a program needs at run time on the build machine: its ELF needs, recursively, plus what .NET opens with dlopen.
namespace Kraken.Daemon.Image;

internal static class SharedLibraries
{
    /// <summary>Where the dynamic loader looks on a Debian amd64 system without an ld.so.cache, in its order.</summary>
    private static readonly string[] s_searchPath =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    /// <summary>
    /// What .NET loads with dlopen rather than naming in its ELF needs: OpenSSL, behind every hash, HMAC, HKDF,
    /// AES-GCM and the random number generator on Linux (and TLS). .NET tries these names in this order; the first
    /// the build machine has goes in.
    /// </summary>
    public static readonly (string[] Names, string Package)[] DotnetDlopen =
    [
        (["libssl.so.3", "libssl.so.1.1"], "libssl3"),
        (["libcrypto.so.3", "libcrypto.so.1.1"], "libssl3"),
    ];

    /// <summary>
    /// The host paths of the interpreter and every library <paramref name="programs"/> and <paramref name="dlopened"/>
    /// need, each once, in the order found. A path may be a symbolic link; the caller copies the link and its target.
    /// </summary>
    public static IReadOnlyList<string> Closure(IEnumerable<string> programs, IEnumerable<(string[] Names, string Package)> dlopened)
    {
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<string>(programs);
        void Add(string hostPath)
        {
            if (seen.Add(hostPath))
            {
                result.Add(hostPath);
                pending.Enqueue(hostPath);
            }
        }

        foreach (var (names, package) in dlopened)
        {
            var found = names.Select(Find).FirstOrDefault(p => p is not null)
                ?? throw new ImageBuildException($"{names[0]} not found in {string.Join(", ", s_searchPath)} (Debian package {package}); kraken loads it at run time");
            Add(found);
        }

        var scanned = new HashSet<string>(StringComparer.Ordinal);
        while (pending.TryDequeue(out var path))
        {
            if (!scanned.Add(path))
            {
                continue;
            }

            var elf = ElfFile.Read(path);
            if (elf.Interpreter is { } interpreter)
            {
                if (!File.Exists(interpreter))
                {
                    throw new ImageBuildException($"{path} needs the interpreter {interpreter}, which this machine does not have");
                }

                Add(interpreter);
            }

            foreach (var needed in elf.Needed)
            {
                Add(Find(needed) ?? throw new ImageBuildException($"{path} needs {needed}, which is not in {string.Join(", ", s_searchPath)}"));
            }
        }

        return result;
    }

    private static string? Find(string name) =>
        name.Contains('/', StringComparison.Ordinal)
            ? (File.Exists(name) ? name : null)
            : s_searchPath.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
