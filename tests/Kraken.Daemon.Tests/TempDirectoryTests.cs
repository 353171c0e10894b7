// A test class with a temporary directory of its own, made for each test and removed after it.
namespace Kraken.Daemon.Tests;

public abstract class TempDirectoryTests(string prefix) : IDisposable
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}
