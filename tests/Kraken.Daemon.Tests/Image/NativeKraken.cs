// The NativeAOT kraken the image and native-daemon tests share: published once (or reused from the test cache) per run.
using System.Diagnostics;
using Kraken.Daemon.Image;
using Kraken.Daemon.Tests.Pxe;

namespace Kraken.Daemon.Tests.Image;

/// <summary>
/// Publishes this source tree with NativeAOT through the image builder's own rule (<see cref="KrakenBinary"/>) into
/// <c>&lt;test cache&gt;/image/publish</c>, reusing an earlier publish while no source file changed. The tests that
/// use it share one collection, so the publish and the VM boots do not run at the same time.
/// </summary>
public sealed class NativeKraken
{
    public NativeKraken()
    {
        Directory.CreateDirectory(Cache);
        var log = new StringWriter();
        var clock = Stopwatch.StartNew();
        var build = KrakenBinary.Locate(null, Cache, log);
        Elapsed = clock.Elapsed;
        Binary = build.Binary;
        Kind = build.Kind;
        Log = log.ToString();
    }

    /// <summary>The image builder's cache for the tests: kernel package, publishes.</summary>
    public static string Cache => Path.Combine(BootImages.CacheDirectory, "image");

    public string Binary { get; }

    /// <summary>aot, or single-file where NativeAOT could not build.</summary>
    public string Kind { get; }

    /// <summary>What the publish step printed (whether it published or reused, and how long it took).</summary>
    public string Log { get; }

    public TimeSpan Elapsed { get; }
}

[CollectionDefinition(Name)]
public sealed class NativeKrakenCollection : ICollectionFixture<NativeKraken>
{
    public const string Name = "Native kraken";
}
