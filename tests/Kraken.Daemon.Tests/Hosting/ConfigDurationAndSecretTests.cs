// Durations written 5s / 1m30s in a config file or on the command line, and secret files others can read.
using System.Runtime.Versioning;
using Kraken.Daemon.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests.Hosting;

[SupportedOSPlatform("linux")]
public sealed class ConfigDurationAndSecretTests() : TempDirectoryTests("kraken-config-secret-")
{
    private string Config(string sync, string api = "")
    {
        var path = Path.Combine(Dir, "kraken.json");
        File.WriteAllText(path, $$"""
            { "NodeId": "{{TestDaemon.RootId}}", "Api": { "Url": "http://127.0.0.1:0"{{api}} },
              "Sync": { "Bind": "127.0.0.1:0"{{sync}} }, "Store": { "Path": ":memory:" } }
            """);
        return path;
    }

    [Fact]
    public async Task Durations_in_units_bind_from_the_file_the_command_line_and_module_sections()
    {
        var file = Config($$""", "JoinSecret": "{{TestDaemon.Secret}}", "HelloInterval": "500ms", "DeadInterval": "1m30s" """);
        await using var app = DaemonHost.Build(file, ["--Sync:JoinTimeout=2s", "--Api:EventWriteTimeout=1.5s", "--Modules:Power:CallTimeout=250ms"]);
        var options = app.Services.GetRequiredService<DaemonOptions>();
        var sync = options.ToSyncOptions();

        Assert.Equal(TimeSpan.FromMilliseconds(500), sync.HelloInterval);
        Assert.Equal(TimeSpan.FromSeconds(90), sync.DeadInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), sync.JoinTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.Api.EventWriteTimeout);

        // A module's section sees the .NET form its binder reads; the old form itself is left as it was written.
        Assert.Equal("00:00:00.2500000", app.Configuration["Modules:Power:CallTimeout"]);
        Assert.Equal("1m30s", new ConfigurationBuilder().AddJsonFile(file).Build()["Sync:DeadInterval"]);
    }

    [Theory]
    [InlineData("--Sync:HelloInterval=5x", "Sync:HelloInterval")]
    [InlineData("--Sync:DeadInterval=-1s", "Sync:DeadInterval")]
    [InlineData("--Api:EventWriteTimeout=fast", "Api:EventWriteTimeout")]
    public void A_bad_duration_stops_start_up_naming_its_key(string argument, string key)
    {
        var file = Config($$""", "JoinSecret": "{{TestDaemon.Secret}}" """);
        var ex = Assert.Throws<DaemonConfigException>(() => DaemonHost.Build(file, [argument]));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
        Assert.Contains("5s", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead, "its group", "0640")]
    [InlineData(UnixFileMode.OtherRead, "other users", "0604")]
    [InlineData(UnixFileMode.GroupRead | UnixFileMode.OtherRead, "its group and other users", "0644")]
    public void A_token_or_join_secret_file_others_can_read_is_refused_naming_key_file_and_mode(UnixFileMode extra, string who, string mode)
    {
        var token = Path.Combine(Dir, "api-token");
        var secret = Path.Combine(Dir, "join-secret");
        TestDaemon.WriteSecret(token, TestDaemon.Token + "\n");
        TestDaemon.WriteSecret(secret, TestDaemon.Secret + "\n");
        var file = Config($$""", "JoinSecretFile": "{{secret}}" """, $$""", "TokenFile": "{{token}}" """);
        using (var ok = DaemonHost.Build(file, []))
        {
            Assert.Equal(TestDaemon.Token, ok.Services.GetRequiredService<DaemonOptions>().Token);
        }

        foreach (var (path, key) in new[] { (token, "Api:TokenFile"), (secret, "Sync:JoinSecretFile") })
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);
            var ex = Assert.Throws<DaemonConfigException>(() => DaemonHost.Build(file, []));
            Assert.Equal(key, ex.Key);
            Assert.Contains($"'{path}' can be read by {who} (mode {mode})", ex.Message, StringComparison.Ordinal);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    [Fact]
    public async Task Serve_stops_on_a_readable_credential_file()
    {
        var credentials = Directory.CreateDirectory(Path.Combine(Dir, "credentials")).FullName;
        TestDaemon.WriteSecret(Path.Combine(credentials, "bmc-default"), "password\n");
        File.WriteAllText(Path.Combine(credentials, ".notes"), "not a credential reference: never read, not checked\n");
        var file = Config($$""", "JoinSecret": "{{TestDaemon.Secret}}" """);
        string[] args = ["serve", "--config", file, "--Modules:SimPower:Enabled=false", "--Modules:Power:Enabled=true", $"--Modules:Power:Credentials:Directory={credentials}"];

        File.SetUnixFileMode(Path.Combine(credentials, "bmc-default"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        // Module sections are read as the daemon starts: like every module's configuration error, exit 1 (docs/daemon.md).
        var stderr = new StringWriter();
        Assert.Equal(1, await Kraken.Daemon.Cli.CommandLine.RunAsync(args, TextWriter.Null, stderr));
        Assert.Contains("cannot start: Modules:Power:Credentials:Directory", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains($"'{Path.Combine(credentials, "bmc-default")}' can be read by other users (mode 0604)", stderr.ToString(), StringComparison.Ordinal);
    }
}
