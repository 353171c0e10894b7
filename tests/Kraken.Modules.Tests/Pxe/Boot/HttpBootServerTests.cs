// The HTTP boot server against curl: whole files, ranges, resume, If-Range, confinement, scripts, fetch events.
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Kraken.Modules.Pxe;
using Kraken.Modules.Pxe.Http;
using Kraken.Modules.Tests.Interop;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Pxe.Boot;

[Trait("Category", "Interop")]
public sealed class HttpBootServerTests : IAsyncLifetime
{
    private const int KernelSize = 3 * 1024 * 1024 + 17;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kraken-http-{Guid.NewGuid():N}");
    private readonly ConcurrentQueue<HttpBootFetch> _fetches = new();
    private readonly StateStore _store = BootNodes.Store();
    private byte[] _kernel = [];
    private NodeId _node;
    private HttpBootServer? _server;

    private string Root => Path.Combine(_dir, "root");

    private string Url => _server!.BaseUri.ToString().TrimEnd('/');

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(Root, "images"));
        _kernel = RandomNumberGenerator.GetBytes(KernelSize);
        await File.WriteAllBytesAsync(Path.Combine(Root, "vmlinuz"), _kernel);
        await File.WriteAllBytesAsync(Path.Combine(Root, "images", "initrd.img"), RandomNumberGenerator.GetBytes(1000));
        await File.WriteAllTextAsync(Path.Combine(_dir, "secret"), "outside the root");
        File.CreateSymbolicLink(Path.Combine(Root, "escape"), Path.Combine(_dir, "secret"));
        File.CreateSymbolicLink(Path.Combine(Root, "up"), "..");
        File.CreateSymbolicLink(Path.Combine(Root, "kernel-link"), "vmlinuz");

        // The node lives at 127.0.0.1, so curl's fetches are attributed to it.
        _node = BootNodes.Add(_store, "n1", "52:54:00:18:00:01", "127.0.0.1", 8);
        var files = new BootFiles(new BootFilesOptions { ServerAddress = IPAddress.Loopback, HttpBaseUrl = "http://127.0.0.1:8080" }, BootNodes.Directory(_store));
        _server = new HttpBootServer(new HttpBootOptions { Endpoint = new IPEndPoint(IPAddress.Loopback, 0), Root = Root }, files);
        _server.Fetched += _fetches.Enqueue;
        await _server.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private (int Code, string Output) Curl(params string[] args) =>
        ExternalTool.Run("curl", new[] { "-sS", "-o", "/dev/null", "-w", "%{http_code}" }.Concat(args)) is var (exit, output)
            ? (exit == 0 ? int.Parse(output[^3..], CultureInfo.InvariantCulture) : -exit, output)
            : default;

    private byte[] Download(string outName, params string[] args)
    {
        var path = Path.Combine(_dir, outName);
        var (exit, output) = ExternalTool.Run("curl", new[] { "-sS", "-f", "-o", path }.Concat(args));
        Assert.True(exit == 0, output);
        return File.ReadAllBytes(path);
    }

    private async Task<HttpBootFetch> NextFetch()
    {
        for (var i = 0; i < 200; i++)
        {
            if (_fetches.TryDequeue(out var f))
            {
                return f;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException("no fetch event");
    }

    [Fact]
    public async Task Whole_file_is_byte_identical_and_reported_as_a_completed_fetch_of_the_node()
    {
        Assert.Equal(_kernel, Download("whole", Url + "/vmlinuz"));
        var fetch = await NextFetch();
        Assert.Equal(("/vmlinuz", 200, (long)KernelSize, (long)KernelSize, true), (fetch.Path, fetch.Status, fetch.Bytes, fetch.Length, fetch.Completed));
        Assert.Equal(_node, fetch.Node);
        Assert.Equal(KernelSize, _server!.Counters.BytesSent);
        Assert.Equal(1, _server.Counters.Completed);
    }

    [Fact]
    public async Task Range_requests_return_206_with_exactly_the_bytes_asked_for()
    {
        Assert.Equal(_kernel[..100], Download("r1", "-r", "0-99", Url + "/vmlinuz"));
        Assert.Equal(_kernel[1000..1500], Download("r2", "-r", "1000-1499", Url + "/vmlinuz"));
        Assert.Equal(_kernel[^500..], Download("r3", "-r", "-500", Url + "/vmlinuz"));
        Assert.Equal(_kernel[(KernelSize - 10)..], Download("r4", "-r", $"{KernelSize - 10}-{KernelSize + 1000}", Url + "/vmlinuz"));
        var fetch = await NextFetch();
        Assert.Equal((206, 100L, true), (fetch.Status, fetch.Bytes, fetch.Completed));
        Assert.Equal(4, _server!.Counters.Ranges);

        var headers = ExternalTool.Run("curl", ["-sS", "-D", "-", "-o", "/dev/null", "-r", "0-99", Url + "/vmlinuz"]).Output;
        Assert.Contains($"content-range: bytes 0-99/{KernelSize}", headers, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("accept-ranges: bytes", headers, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Interrupted_download_resumes_with_continue_at_to_an_identical_file()
    {
        var path = Path.Combine(_dir, "resumed");
        File.WriteAllBytes(path, _kernel[..1_234_567]);
        var (exit, output) = ExternalTool.Run("curl", ["-sS", "-f", "-C", "-", "-o", path, Url + "/vmlinuz"]);
        Assert.True(exit == 0, output);
        Assert.Equal(_kernel, File.ReadAllBytes(path));
        Assert.Equal(1, _server!.Counters.Ranges);
    }

    [Fact]
    public void Unsatisfiable_ranges_get_416_and_malformed_or_multiple_ranges_get_the_whole_file()
    {
        Assert.Equal(416, Curl("-r", $"{KernelSize}-", Url + "/vmlinuz").Code);
        Assert.Equal(1, _server!.Counters.NotSatisfiable);
        Assert.Equal(_kernel, Download("multi", "-r", "0-9,20-29", Url + "/vmlinuz"));
        Assert.Equal(_kernel, Download("bad", "-H", "Range: bytes=9-3", Url + "/vmlinuz"));
    }

    [Fact]
    public void If_range_with_a_stale_validator_gets_the_whole_file_and_a_current_one_gets_the_range()
    {
        Assert.Equal(_kernel, Download("stale", "-r", "0-99", "-H", "If-Range: \"stale-tag\"", Url + "/vmlinuz"));
        var headers = ExternalTool.Run("curl", ["-sS", "-I", Url + "/vmlinuz"]).Output;
        var etag = headers.Split('\n').Single(l => l.StartsWith("etag:", StringComparison.OrdinalIgnoreCase))[5..].Trim();
        var modified = headers.Split('\n').Single(l => l.StartsWith("last-modified:", StringComparison.OrdinalIgnoreCase))[14..].Trim();
        Assert.Equal(_kernel[..100], Download("fresh", "-r", "0-99", "-H", "If-Range: " + etag, Url + "/vmlinuz"));
        Assert.Equal(_kernel[..100], Download("date", "-r", "0-99", "-H", "If-Range: " + modified, Url + "/vmlinuz"));
        Assert.Equal(_kernel, Download("weak", "-r", "0-99", "-H", "If-Range: W/" + etag, Url + "/vmlinuz"));
    }

    [Theory]
    // Kestrel removes dot segments before routing, so these arrive as /secret: absent from the root.
    [InlineData("/../secret", 404)]
    [InlineData("/images/../../secret", 404)]
    [InlineData("/%2e%2e/secret", 404)]
    [InlineData("/escape", 403)]
    [InlineData("/up/secret", 403)]
    [InlineData("/nothing-here", 404)]
    [InlineData("/", 404)]
    [InlineData("/images", 404)]
    [InlineData("/kernel-link", 200)]
    [InlineData("/images/initrd.img", 200)]
    public void Paths_stay_inside_the_boot_root(string path, int expected)
    {
        var (code, output) = Curl("--path-as-is", Url + path);
        Assert.True(code == expected, $"{path}: {output}");
    }

    [Fact]
    public async Task Per_node_scripts_are_served_by_node_id_name_and_mac()
    {
        foreach (var path in new[] { $"/boot/{_node}.ipxe", "/boot/n1.ipxe", "/boot/mac/52-54-00-18-00-01.ipxe", "/boot/mac/52:54:00:18:00:01.ipxe" })
        {
            var script = System.Text.Encoding.UTF8.GetString(Download("script", Url + path));
            Assert.StartsWith("#!ipxe\nkernel http://127.0.0.1:8080/vmlinuz", script, StringComparison.Ordinal);
            Assert.Contains($"kraken.id={_node}", script, StringComparison.Ordinal);
            var fetch = await NextFetch();
            Assert.Equal((path, _node, true), (fetch.Path, fetch.Node, fetch.Completed));
        }

        Assert.Equal(404, Curl(Url + "/boot/nobody.ipxe").Code);
        Assert.Equal(404, Curl(Url + "/boot/mac/52-54-00-18-00-99.ipxe").Code);
        Assert.Equal(4, _server!.Counters.Scripts - 2);
    }

    [Fact]
    public void Only_get_and_head_are_allowed()
    {
        Assert.Equal(405, Curl("-X", "POST", Url + "/vmlinuz").Code);
        Assert.Equal(405, Curl("-X", "DELETE", Url + "/vmlinuz").Code);
        Assert.Equal(200, Curl("-I", Url + "/vmlinuz").Code);
        Assert.Equal(2, _server!.Counters.BadMethod);
        Assert.True(_fetches.IsEmpty); // HEAD is not a fetch
    }

    [Fact]
    public async Task A_client_that_hangs_up_mid_file_is_an_aborted_fetch()
    {
        var big = RandomNumberGenerator.GetBytes(64 * 1024 * 1024);
        await File.WriteAllBytesAsync(Path.Combine(Root, "big"), big);
        using (var http = new HttpClient())
        {
            using var response = await http.GetAsync(Url + "/big", HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[1024];
            Assert.True(await body.ReadAsync(buffer) > 0);
        }

        var fetch = await NextFetch();
        Assert.False(fetch.Completed);
        Assert.True(fetch.Bytes < big.Length);
        Assert.Equal(1, _server!.Counters.Aborted);
    }
}
