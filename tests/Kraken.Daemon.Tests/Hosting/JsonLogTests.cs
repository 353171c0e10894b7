// Logging:Console:FormatterName=json: a real daemon process writes one JSON object per line, nothing else.
using System.Text.Json;
using Kraken.Daemon.Hosting;
using Kraken.Daemon.Tests.Functional;

namespace Kraken.Daemon.Tests.Hosting;

[Trait("Category", "Network")]
public sealed class JsonLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kraken-jsonlog-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_daemon_writes_json_lines_when_the_json_formatter_is_configured()
    {
        using var daemon = DaemonProcess.Start(_dir, "json", TestDaemon.RootId, [], storePath: Path.Combine(_dir, "cfg.db"),
            environment: new Dictionary<string, string> { ["KRAKEN_Logging__Console__FormatterName"] = "json" });
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(20)));

        var lines = daemon.ReadLog().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 3, daemon.ReadLog());
        var entries = lines.Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            Assert.Equal(JsonValueKind.Object, e.ValueKind);
            return (Timestamp: e.GetProperty("Timestamp").GetString()!, EventId: e.GetProperty("EventId").GetInt32(), Level: e.GetProperty("LogLevel").GetString()!,
                Category: e.GetProperty("Category").GetString()!, Message: e.GetProperty("Message").GetString()!,
                Url: e.TryGetProperty("State", out var state) && state.TryGetProperty("Url", out var u) ? u.GetString() : null);
        }).ToList();

        // The structured fields are there to query: the event id, the category, the message's own values.
        var listening = Assert.Single(entries, e => e.Category == "Kraken.Daemon" && e.EventId == 10);
        Assert.Equal("Information", listening.Level);
        Assert.Equal(daemon.ApiUrl, listening.Url);
        Assert.Equal($"API listening on {daemon.ApiUrl}", listening.Message);
        Assert.All(entries, e => Assert.EndsWith("Z", e.Timestamp, StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_formatter_is_a_configuration_error_naming_the_key()
    {
        var e = Assert.Throws<DaemonConfigException>(() => DaemonHost.Build(null,
            [$"--NodeId={TestDaemon.RootId}", $"--Sync:JoinSecret={TestDaemon.Secret}", "--Store:Path=:memory:", "--Logging:Console:FormatterName=xml"]));
        Assert.Equal(DaemonHost.ConsoleFormatterKey, e.Key);
        Assert.Contains("simple, json or systemd", e.Message, StringComparison.Ordinal);
    }
}
