// The original's websocket commands and message shapes, without a socket.
using System.Text.Json;
using Kraken.Daemon.Events;

namespace Kraken.Daemon.Tests.Events;

public sealed class LegacyWebSocketTests
{
    private const string Node = "00000000-0000-4000-8000-000000001001";

    private static DaemonEvent Dsc(string url, string value) =>
        new("state", $$"""{"seq":1,"type":"state","kind":"Updated","view":"dsc","node":"{{Node}}","url":"{{url}}","old":null,"new":"{{value}}","version":2}""");

    [Theory]
    [InlineData("""{"command": 0, "type": "DISCOVERY"}""", true)]
    [InlineData("""{"command": "SUBSCRIBE", "type": "DISCOVERY"}""", true)]
    [InlineData("""{"type": "DISCOVERY"}""", true)]
    [InlineData("""{"command": 0, "type": "STATE_CHANGE"}""", false)]
    [InlineData("""not json""", false)]
    public void Commands_subscribe_by_type(string command, bool discovery)
    {
        var subscribed = new bool[7];
        LegacyWebSocket.Apply(command, subscribed);
        Assert.Equal(discovery, subscribed[5]);
    }

    [Fact]
    public void Unsubscribe_means_unsubscribe_also_as_a_string()
    {
        var subscribed = new bool[7];
        LegacyWebSocket.Apply("""{"command": 0, "type": "ALL"}""", subscribed);
        Assert.True(subscribed[1] && subscribed[2] && subscribed[5]);
        LegacyWebSocket.Apply("""{"command": "UNSUBSCRIBE", "type": "STATE_CHANGE"}""", subscribed);
        Assert.False(subscribed[1]);
        LegacyWebSocket.Apply("""{"command": 1, "type": "DISCOVERY"}""", subscribed);
        Assert.False(subscribed[5]);
        Assert.True(subscribed[2]);
    }

    [Fact]
    public void A_dsc_change_is_a_state_change_and_a_discovery_for_subscribers_only()
    {
        var subscribed = new bool[7];
        Assert.Empty(LegacyWebSocket.Translate(Dsc("/PhysState", "POWER_ON"), subscribed));

        subscribed[1] = subscribed[5] = true;
        var messages = LegacyWebSocket.Translate(Dsc("/PhysState", "POWER_ON"), subscribed).Select(m => JsonDocument.Parse(m).RootElement).ToList();
        Assert.Equal([1, 5], messages.Select(m => m.GetProperty("type").GetInt32()));
        Assert.All(messages, m =>
        {
            Assert.Equal("/PhysState", m.GetProperty("url").GetString());
            Assert.Equal(Node, m.GetProperty("nodeid").GetString());
            Assert.Equal("POWER_ON", m.GetProperty("value").GetString());
        });
    }

    [Fact]
    public void A_dispatch_is_a_state_mutation_with_the_mutation_id_as_value()
    {
        var subscribed = new bool[7];
        subscribed[2] = true;
        var e = new DaemonEvent("mutation", $$"""{"type":"mutation","kind":"Dispatched","node":"{{Node}}","mutation":"OFFtoON","module":"power","at":"2026-01-01T00:00:00+00:00"}""");
        var m = JsonDocument.Parse(Assert.Single(LegacyWebSocket.Translate(e, subscribed))).RootElement;
        Assert.Equal(2, m.GetProperty("type").GetInt32());
        Assert.Equal("OFFtoON", m.GetProperty("value").GetString());
        Assert.Contains("MUTATE", m.GetProperty("data").GetString(), StringComparison.Ordinal);

        var confirmed = new DaemonEvent("mutation", e.Json.Replace("Dispatched", "Confirmed", StringComparison.Ordinal));
        Assert.Empty(LegacyWebSocket.Translate(confirmed, subscribed));
    }
}
