// Start-up validation: a bad value stops the daemon and names the key.
using Kraken.Daemon.Hosting;
using Microsoft.Extensions.Configuration;

namespace Kraken.Daemon.Tests.Hosting;

public sealed class ConfigTests
{
    private static readonly Dictionary<string, string?> s_valid = new()
    {
        ["NodeId"] = TestDaemon.RootId,
        ["Sync:JoinSecret"] = TestDaemon.Secret,
        ["Store:Path"] = DaemonOptions.MemoryStore,
    };

    private static DaemonOptions Load(params (string Key, string? Value)[] changes)
    {
        var values = new Dictionary<string, string?>(s_valid);
        foreach (var (k, v) in changes)
        {
            values[k] = v;
        }

        return DaemonOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Where(kv => kv.Value is not null)).Build());
    }

    [Fact]
    public void A_valid_config_gives_a_root_with_the_profile_defaults()
    {
        var o = Load();
        Assert.True(o.IsRoot);
        Assert.Null(o.Token);
        Assert.Equal(TimeSpan.FromSeconds(5), o.ToSyncOptions().HelloInterval);

        var child = Load(("Sync:Parents:0", "127.0.0.1:31415"), ("Store:Path", null), ("Sync:HelloInterval", "00:00:01"), ("Sync:DeadInterval", "00:00:04"));
        Assert.False(child.IsRoot);
        Assert.Equal(TimeSpan.FromSeconds(1), child.ToSyncOptions().HelloInterval);
        Assert.Equal("127.0.0.1:31415", Assert.Single(child.ToSyncOptions().Parents).ToString());
    }

    [Theory]
    [InlineData("NodeId", null, "NodeId")]
    [InlineData("NodeId", "not-a-uuid", "NodeId")]
    [InlineData("NodeId", "00000000-0000-0000-0000-000000000000", "NodeId")]
    [InlineData("Sync:JoinSecret", null, "Sync:JoinSecret")]
    [InlineData("Sync:JoinSecret", "short", "Sync:JoinSecret")]
    [InlineData("Sync:Bind", "nowhere", "Sync:Bind")]
    [InlineData("Sync:Parents:0", "127.0.0.1", "Sync:Parents")]
    [InlineData("Sync:HelloInterval", "soon", "HelloInterval")]
    [InlineData("Sync:DeadInterval", "00:00:01", "Sync:DeadInterval")]
    [InlineData("Sync:MaxDeadInterval", "00:00:10", "Sync:MaxDeadInterval")]
    [InlineData("Sync:Profile", "Fast", "Profile")]
    [InlineData("Sync:Bogus", "1", "Bogus")]
    [InlineData("Api:Url", "ftp://x", "Api:Url")]
    [InlineData("Api:Url", "http://127.0.0.1:3141/api", "Api:Url")]
    [InlineData("Api:Token", "short", "Api:Token")]
    [InlineData("Api:EventBuffer", "1", "Api:EventBuffer")]
    [InlineData("Api:TokenFile", "/nonexistent/token", "Api:TokenFile")]
    [InlineData("Store:Path", null, "Store:Path")]
    [InlineData("Store:Import", "/nonexistent/state.json", "Store:Import")]
    [InlineData("Role", "king", "Role")]
    [InlineData("Bogus", "1", "Bogus")]
    public void A_bad_value_names_its_key(string key, string? value, string named)
    {
        var ex = Assert.Throws<DaemonConfigException>(() => Load((key, value)));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variables_map_to_sections_and_client_variables_are_ignored()
    {
        Environment.SetEnvironmentVariable("KRAKEN_Logging__LogLevel__KrakenEnvTest", "Warning");
        Environment.SetEnvironmentVariable("KRAKEN_ENVTEST_CLIENT_SETTING", "x");
        try
        {
            var overrides = DaemonHost.EnvironmentOverrides().ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.Equal("Warning", overrides["Logging:LogLevel:KrakenEnvTest"]);
            Assert.DoesNotContain(overrides.Keys, k => k.Contains("ENVTEST_CLIENT", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable("KRAKEN_Logging__LogLevel__KrakenEnvTest", null);
            Environment.SetEnvironmentVariable("KRAKEN_ENVTEST_CLIENT_SETTING", null);
        }
    }

    [Theory]
    [InlineData("daemon-root.json", true)]
    [InlineData("daemon-tier1.json", false)]
    [InlineData("daemon-leaf.json", false)]
    [InlineData("../packaging/kraken.json", true)]
    public void The_example_configs_are_valid(string file, bool root)
    {
        // The examples (and the packages' root configuration) name secret files under /etc/kraken; inline values
        // stand in for them here.
        var config = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(TestDaemon.RepoRoot(), "examples", file))
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Api:Token"] = TestDaemon.Token,
                ["Sync:JoinSecret"] = TestDaemon.Secret,
                ["Store:Import"] = root ? TestDaemon.ExampleCluster : null,
            })
            .Build();
        var options = DaemonOptions.Load(config);
        Assert.Equal(root, options.IsRoot);
        Assert.Equal(root ? 0 : 1, Math.Min(1, options.Parents.Count));
    }

    [Fact]
    public void A_child_needs_parents_and_a_root_has_none()
    {
        Assert.Contains("Sync:Parents", Assert.Throws<DaemonConfigException>(() => Load(("Role", "child"))).Message, StringComparison.Ordinal);
        Assert.Contains("Sync:Parents", Assert.Throws<DaemonConfigException>(() => Load(("Role", "root"), ("Sync:Parents:0", "127.0.0.1:1"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_exits_2_naming_the_key_for_a_bad_file()
    {
        var dir = Directory.CreateTempSubdirectory("kraken-config-test-").FullName;
        try
        {
            var bad = Path.Combine(dir, "bad.json");
            await File.WriteAllTextAsync(bad, """{ "NodeId": "123e4567-e89b-12d3-a456-426655440000", "Sync": { "JoinSecret": "a-long-enough-secret-123", "HelloInterval": "fast" }, "Store": { "Path": ":memory:" } }""");
            var stderr = new StringWriter();
            Assert.Equal(2, await Kraken.Daemon.Cli.CommandLine.RunAsync(["serve", "--config", bad], TextWriter.Null, stderr));
            Assert.Contains("HelloInterval", stderr.ToString(), StringComparison.Ordinal);

            var broken = Path.Combine(dir, "broken.json");
            await File.WriteAllTextAsync(broken, "{ \"NodeId\": ");
            stderr = new StringWriter();
            Assert.Equal(2, await Kraken.Daemon.Cli.CommandLine.RunAsync(["serve", "--config", broken], TextWriter.Null, stderr));
            Assert.Contains("not valid JSON", stderr.ToString(), StringComparison.Ordinal);

            stderr = new StringWriter();
            Assert.Equal(2, await Kraken.Daemon.Cli.CommandLine.RunAsync(["serve", "--config", Path.Combine(dir, "missing.json")], TextWriter.Null, stderr));
            Assert.Contains("does not exist", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_module_reads_its_own_section_and_a_bad_value_stops_start_up()
    {
        var ex = await Assert.ThrowsAsync<DaemonConfigException>(() => TestDaemon.StartRootAsync(extra: "--Modules:SimPower:Stuck=maybe"));
        Assert.Contains("Modules:SimPower:Stuck", ex.Message, StringComparison.Ordinal);
    }
}
