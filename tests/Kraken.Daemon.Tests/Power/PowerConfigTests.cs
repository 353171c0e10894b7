// Modules:Power: every bad value stops start-up with its full key named; "kraken serve" says so and exits non-zero.
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Modules;
using Kraken.Tree.State;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kraken.Daemon.Tests.Power;

[Trait("Category", "Network")]
public sealed class PowerConfigTests
{
    [Theory]
    [InlineData("Modules:Power:CallTimeout", "soon")]
    [InlineData("Modules:Power:CallTimeout", "00:00:00")]
    [InlineData("Modules:Power:StepTimeout", "00:00:01")]
    [InlineData("Modules:Power:Retries", "-1")]
    [InlineData("Modules:Power:BmcConcurrency", "0")]
    [InlineData("Modules:Power:DefaultDriverConcurrency", "0")]
    [InlineData("Modules:Power:PollInterval", "-00:00:01")]
    [InlineData("Modules:Power:Drivers:0", "smoke-signals")]
    [InlineData("Modules:Power:DriverConcurrency:redfish", "4")]
    [InlineData("Modules:Power:Frobnicate", "1")]
    [InlineData("Modules:Power:Credentials:Directory", "/nonexistent/kraken-credentials")]
    [InlineData("Modules:Power:Credentials:Environment", "sometimes")]
    [InlineData("Modules:Power:Ipmi:CipherSuite", "5")]
    [InlineData("Modules:Power:Ipmi:Privilege", "9")]
    [InlineData("Modules:Power:Ipmi:Password", "hunter2")]
    [InlineData("Modules:Power:Redfish:DefaultScheme", "ftp")]
    [InlineData("Modules:Power:Sim:FailureRate", "2")]
    [InlineData("Modules:Power:OperationHistory", "0")]
    public void A_bad_value_stops_start_up_naming_its_key(string key, string value)
    {
        // DriverConcurrency for a driver that is not loaded: only ipmi here.
        var values = new Dictionary<string, string?> { ["Modules:Power:Enabled"] = "true", [key] = value };
        if (key.Contains("DriverConcurrency:", StringComparison.Ordinal))
        {
            values["Modules:Power:Drivers:0"] = "ipmi";
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var context = new DaemonModuleContext(
            Tree.State.NodeId.Parse(TestDaemon.RootId, null),
            new StateStore(StateSchema.Default),
            configuration.GetSection("Modules:Power"),
            IsRoot: true,
            TimeProvider.System,
            NullLoggerFactory.Instance,
            new ServiceCollection().BuildServiceProvider());
        var module = new PowerDaemonModule([]);
        var ex = Assert.Throws<DaemonConfigException>(() => module.Create(context).ToList());
        Assert.Equal(key, ex.Key);
        Assert.StartsWith(key + ": ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", ex.Message, StringComparison.Ordinal);
        Assert.Null(module.Module);
    }

    [Theory]
    [InlineData("daemon-root.json")]
    [InlineData("daemon-tier1.json")]
    public void The_example_configs_power_sections_are_valid(string file)
    {
        // The tier-1 example names /etc/kraken/credentials; a directory of our own stands in for it.
        var credentials = Directory.CreateTempSubdirectory("kraken-power-example-").FullName;
        try
        {
            var configuration = new ConfigurationBuilder()
                .AddJsonFile(Path.Combine(TestDaemon.RepoRoot(), "examples", file))
                .AddInMemoryCollection(new Dictionary<string, string?> { ["Modules:Power:Credentials:Directory"] = credentials })
                .Build();
            var settings = PowerSettings.Load(configuration.GetSection("Modules:Power"), []);
            Assert.True(settings.Enabled);
            var options = settings.ToPowerOptions("Modules:Power", settings.DriverNames);
            Assert.Contains("ipmi", settings.DriverNames);
            Assert.Equal(TimeSpan.FromSeconds(10), options.CallTimeout);
        }
        finally
        {
            Directory.Delete(credentials, recursive: true);
        }
    }

    [Fact]
    public async Task Kraken_serve_refuses_to_start_and_names_the_key()
    {
        var directory = Directory.CreateTempSubdirectory("kraken-power-serve-").FullName;
        try
        {
            var stderr = new StringWriter();
            var code = await DaemonHost.ServeAsync(null, [
                $"--NodeId={TestDaemon.RootId}", "--Api:Url=http://127.0.0.1:0", "--Sync:Bind=127.0.0.1:0", $"--Sync:JoinSecret={TestDaemon.Secret}",
                $"--Store:Path={Path.Combine(directory, "cfg.db")}", "--Modules:Power:BmcConcurrency=none"], stderr);
            Assert.NotEqual(0, code);
            Assert.Contains("Modules:Power:BmcConcurrency", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task An_absent_section_or_enabled_false_means_no_power_module_and_a_good_section_starts_one()
    {
        await using (var absent = await TestDaemon.StartRootAsync())
        {
            Assert.Null(absent.Power().Module);
        }

        var credentials = Directory.CreateTempSubdirectory("kraken-power-creds-").FullName;
        try
        {
            await using var d = await TestDaemon.StartRootAsync(extra: [
                "--Modules:SimPower:Enabled=false", "--Modules:Power:Drivers:0=ipmi", "--Modules:Power:Drivers:1=redfish", "--Modules:Power:Drivers:2=qemu",
                "--Modules:Power:DriverConcurrency:ipmi=32", "--Modules:Power:CallTimeout=00:00:05", "--Modules:Power:Ipmi:CipherSuite=17",
                "--Modules:Power:Redfish:VerifyTls=false", "--Modules:Power:Redfish:Auth=Basic", "--Modules:Power:Qemu:PollInterval=00:00:00.100",
                "--Modules:Power:Qemu:Templates:n7=qemu-system-x86_64 -name {system} -qmp unix:{qmp},server=on,wait=off -daemonize", $"--Modules:Power:Credentials:Directory={credentials}"]);
            var power = d.Power();
            Assert.Equal(["ipmi", "qemu", "redfish"], power.Module!.Drivers);
            Assert.Equal(17, power.Settings!.IpmiOptions.CipherSuite);
            Assert.False(power.Settings.RedfishOptions.VerifyTls);
            Assert.Equal(Kraken.Modules.Power.Redfish.RedfishAuth.Basic, power.Settings.RedfishOptions.Auth);
            Assert.StartsWith("qemu-system-x86_64 -name {system}", power.Settings.QemuOptions.Templates["n7"], StringComparison.Ordinal);
            Assert.Contains("Power", d.Daemon.ModuleNames);
            Assert.DoesNotContain("Pxe", d.Daemon.ModuleNames); // no Modules:Pxe section: PXE starts nothing and is not listed
            var graph = JsonDocument.Parse(await d.Http.GetStringAsync("/api/v1/graph")).RootElement;
            Assert.Equal(5, graph.GetProperty("mutations").EnumerateArray().Count(m => m.GetProperty("module").GetString() == "power"));
        }
        finally
        {
            Directory.Delete(credentials, recursive: true);
        }
    }
}
