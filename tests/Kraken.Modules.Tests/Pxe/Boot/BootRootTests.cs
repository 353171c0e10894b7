// Confinement of the boot root, below HTTP (which already removes dot segments).
using Kraken.Modules.Pxe.Http;

namespace Kraken.Modules.Tests.Pxe.Boot;

public sealed class BootRootTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kraken-root-{Guid.NewGuid():N}");

    public BootRootTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "root", "sub"));
        File.WriteAllText(Path.Combine(_dir, "root", "sub", "file"), "x");
        File.WriteAllText(Path.Combine(_dir, "secret"), "x");
        File.CreateSymbolicLink(Path.Combine(_dir, "root", "loop1"), "loop2");
        File.CreateSymbolicLink(Path.Combine(_dir, "root", "loop2"), "loop1");
        File.CreateSymbolicLink(Path.Combine(_dir, "root", "inside"), "sub/file");
        Directory.CreateSymbolicLink(Path.Combine(_dir, "root", "abs"), "/etc");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("/sub/file", BootRoot.Result.Found)]
    [InlineData("sub//file", BootRoot.Result.Found)]
    [InlineData("/inside", BootRoot.Result.Found)]
    [InlineData("/../secret", BootRoot.Result.Refused)]
    [InlineData("/sub/../../secret", BootRoot.Result.Refused)]
    [InlineData("/sub/./file", BootRoot.Result.Refused)]
    [InlineData("/abs/passwd", BootRoot.Result.Refused)]
    [InlineData("/loop1", BootRoot.Result.Refused)]
    [InlineData("/sub\\..\\..\\secret", BootRoot.Result.Refused)]
    [InlineData("/sub/file\0", BootRoot.Result.Refused)]
    [InlineData("/sub", BootRoot.Result.NotFound)]
    [InlineData("/missing", BootRoot.Result.NotFound)]
    public void Resolves_inside_the_root_only(string path, BootRoot.Result expected)
    {
        var root = new BootRoot(Path.Combine(_dir, "root"));
        Assert.Equal(expected, root.TryResolve(path, out var file));
        if (expected == BootRoot.Result.Found)
        {
            Assert.StartsWith(root.FullPath + "/", file, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_root_reached_through_a_link_is_resolved_once()
    {
        var link = Path.Combine(_dir, "root-link");
        Directory.CreateSymbolicLink(link, Path.Combine(_dir, "root"));
        var root = new BootRoot(link);
        Assert.Equal(Path.Combine(_dir, "root"), root.FullPath);
        Assert.Equal(BootRoot.Result.Found, root.TryResolve("/sub/file", out _));
    }
}
