// Shared pieces of the daemon's power tests: a root with Modules:Power, nodes with power settings, waiting for operations.
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kraken.Daemon.Modules;
using Kraken.Modules.Power;
using Microsoft.Extensions.DependencyInjection;

namespace Kraken.Daemon.Tests.Power;

internal static class PowerTestSupport
{
    /// <summary>A root holding the example cluster, with the test SimPower module off and Modules:Power configured by <paramref name="power"/>.</summary>
    public static Task<TestDaemon> StartAsync(Action<IServiceCollection>? services, params string[] power) =>
        TestDaemon.StartRootAsync(services: services, extra: ["--Modules:SimPower:Enabled=false", .. power]);

    public static PowerDaemonModule Power(this TestDaemon d) =>
        d.Services.GetServices<IDaemonModule>().OfType<PowerDaemonModule>().Single();

    public static string NodeId(int i) => $"00000000-0000-4000-a000-{i.ToString("x12", CultureInfo.InvariantCulture)}";

    /// <summary>One node under the root with the given Power extension (null: none).</summary>
    public static string NodeJson(int i, string? power) =>
        $"{{\"id\":\"{NodeId(i)}\",\"nodename\":\"p{i}\",\"parentId\":\"{TestDaemon.RootId}\"{(power is null ? string.Empty : $",\"extensions\":{{\"Power\":{power}}}")}}}";

    public static async Task CreateNodesAsync(TestDaemon d, IEnumerable<string> nodes)
    {
        using var content = new StringContent($"{{\"nodes\":[{string.Join(',', nodes)}]}}", Encoding.UTF8, "application/json");
        var response = await d.Authorized.PostAsync("/api/v1/cfg/nodes", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public static async Task<(HttpResponseMessage Response, JsonElement Body)> PostAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        var response = await http.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        return (response, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Polls the operation at <paramref name="location"/> until it is no longer running.</summary>
    public static async Task<JsonElement> WaitAsync(TestDaemon d, string location, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var body = JsonDocument.Parse(await d.Http.GetStringAsync(location)).RootElement.Clone();
            if (body.GetProperty("state").GetString() != "running")
            {
                return body;
            }

            Assert.True(DateTime.UtcNow < deadline, $"operation {location} still running: {body}");
            await Task.Delay(50);
        }
    }
}

/// <summary>
/// A test driver that counts what the module's limits must bound: calls in flight overall and per BMC. Each call
/// takes <see cref="Delay"/>, then the node is in the state the action leaves it in.
/// </summary>
internal sealed class CountingDriver(string name, TimeSpan delay) : IPowerDriver
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _perBmc = new(StringComparer.Ordinal);
    private int _inFlight;

    public string Name => name;

    public TimeSpan Delay => delay;

    public int Peak { get; private set; }

    public int PeakPerBmc { get; private set; }

    public int Calls { get; private set; }

    public ConcurrentDictionary<string, PowerStatus> States { get; } = new(StringComparer.Ordinal);

    public async ValueTask<PowerStatus> ExecuteAsync(PowerTarget target, PowerAction action, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Calls++;
            _inFlight++;
            Peak = Math.Max(Peak, _inFlight);
            var n = _perBmc[target.BmcKey] = _perBmc.GetValueOrDefault(target.BmcKey) + 1;
            PeakPerBmc = Math.Max(PeakPerBmc, n);
        }

        try
        {
            await Task.Delay(delay, cancellationToken);
            var state = action switch
            {
                PowerAction.Status => States.GetValueOrDefault(target.Node.ToString(), PowerStatus.Off),
                PowerAction.Off or PowerAction.SoftOff => PowerStatus.Off,
                _ => PowerStatus.On,
            };
            States[target.Node.ToString()] = state;
            return state;
        }
        finally
        {
            lock (_lock)
            {
                _inFlight--;
                _perBmc[target.BmcKey]--;
            }
        }
    }
}
