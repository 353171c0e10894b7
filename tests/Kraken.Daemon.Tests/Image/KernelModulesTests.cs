// Module resolution: dependencies first, names with dashes, built-in modules, compressed modules, and errors that name the module.
using System.IO.Compression;
using Kraken.Daemon.Image;

namespace Kraken.Daemon.Tests.Image;

public sealed class KernelModulesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-modules-test-").FullName;

    private string Tree => Path.Combine(_dir, "lib", "modules", "6.1.0-99-amd64");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Module(string relative, byte[]? content = null)
    {
        var path = Path.Combine(Tree, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content ?? [1, 2, 3]);
    }

    private void Layout()
    {
        Module("kernel/drivers/virtio/virtio.ko");
        Module("kernel/drivers/virtio/virtio_ring.ko");
        Module("kernel/drivers/virtio/virtio_pci.ko");
        Module("kernel/net/core/failover.ko");
        Module("kernel/drivers/net/net_failover.ko");
        Module("kernel/drivers/net/virtio_net.ko");
        Module("kernel/drivers/i2c/algos/i2c-algo-bit.ko");
        Module("kernel/drivers/net/ethernet/intel/igb/igb.ko");
        Module("kernel/drivers/char/hw_random/virtio-rng.ko");
        File.WriteAllLines(Path.Combine(Tree, "modules.dep"),
        [
            "kernel/drivers/virtio/virtio.ko:",
            "kernel/drivers/virtio/virtio_ring.ko:",
            "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
            "kernel/net/core/failover.ko:",
            "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko",
            "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
            "kernel/drivers/i2c/algos/i2c-algo-bit.ko:",
            "kernel/drivers/net/ethernet/intel/igb/igb.ko: kernel/drivers/i2c/algos/i2c-algo-bit.ko kernel/drivers/ptp/ptp.ko",
            "kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/char/hw_random/rng-core.ko",
        ]);
        File.WriteAllLines(Path.Combine(Tree, "modules.builtin"), ["kernel/drivers/char/hw_random/rng-core.ko", "kernel/drivers/ptp/ptp.ko"]);
    }

    [Fact]
    public void Every_module_comes_after_the_modules_it_needs_each_once()
    {
        Layout();
        var order = KernelModules.Resolve(Tree, ["virtio_pci", "virtio_net", "igb", "virtio_rng"], Path.Combine(_dir, "scratch"));
        var names = order.Select(m => m.Name).ToList();
        Assert.Equal(names.Distinct().Count(), names.Count);
        Assert.Equal(["virtio", "virtio_ring", "virtio_pci", "failover", "net_failover", "virtio_net", "i2c_algo_bit", "igb", "virtio_rng"], names);
        Assert.Equal("kernel/drivers/char/hw_random/virtio-rng.ko", order[^1].RelativePath);
        Assert.All(order, m => Assert.True(File.Exists(m.Source)));
    }

    [Fact]
    public void A_missing_module_is_named_with_what_needs_it()
    {
        Layout();
        File.AppendAllLines(Path.Combine(Tree, "modules.dep"), ["kernel/drivers/net/e1000e.ko: kernel/drivers/net/nothere.ko"]);
        Module("kernel/drivers/net/e1000e.ko");
        var ex = Assert.Throws<ImageBuildException>(() => KernelModules.Resolve(Tree, ["e1000e"], Path.Combine(_dir, "scratch")));
        Assert.Contains("nothere (needed by e1000e)", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ImageBuildException>(() => KernelModules.Resolve(Tree, ["bogus_nic"], Path.Combine(_dir, "scratch")));
        Assert.Contains("bogus_nic", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dependency_cycle_is_an_error()
    {
        Module("kernel/a.ko");
        Module("kernel/b.ko");
        File.WriteAllLines(Path.Combine(Tree, "modules.dep"), ["kernel/a.ko: kernel/b.ko", "kernel/b.ko: kernel/a.ko"]);
        var ex = Assert.Throws<ImageBuildException>(() => KernelModules.Resolve(Tree, ["a"], Path.Combine(_dir, "scratch")));
        Assert.Contains("depends on itself", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_compressed_module_is_decompressed_and_keeps_its_place_without_the_suffix()
    {
        var content = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        using (var ms = new MemoryStream())
        {
            using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            {
                gz.Write(content);
            }

            Module("kernel/drivers/net/e1000.ko.gz", ms.ToArray());
        }

        File.WriteAllLines(Path.Combine(Tree, "modules.dep"), ["kernel/drivers/net/e1000.ko.gz:"]);
        var m = Assert.Single(KernelModules.Resolve(Tree, ["e1000"], Path.Combine(_dir, "scratch")));
        Assert.Equal("kernel/drivers/net/e1000.ko", m.RelativePath);
        Assert.StartsWith(Path.Combine(_dir, "scratch"), m.Source, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllBytes(m.Source));
    }

    [Fact]
    public void Apt_cache_output_yields_the_plain_amd64_kernels_by_version()
    {
        var output = """
            linux-image-6.1.0-9-amd64 - Linux 6.1 for 64-bit PCs (signed)
            linux-image-6.1.0-57-amd64 - Linux 6.1 for 64-bit PCs (signed)
            linux-image-6.1.0-57-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)
            linux-image-6.1.0-57-rt-amd64 - Linux 6.1 for 64-bit PCs, PREEMPT_RT (signed)
            linux-image-6.1.0-57-amd64-dbg - Debug symbols for linux-image-6.1.0-57-amd64
            linux-image-amd64 - Linux for 64-bit PCs (meta-package)
            linux-image-6.10.0-1-amd64 - Linux 6.10 for 64-bit PCs (signed)
            """;
        var candidates = KernelPackage.ParseCandidates(output);
        Assert.Equal(["linux-image-6.1.0-9-amd64", "linux-image-6.1.0-57-amd64", "linux-image-6.10.0-1-amd64"], candidates.Select(c => c.Name));
    }
}
