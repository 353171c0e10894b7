// Fans state changes and mutation events out to event-stream clients, each through its own bounded buffer.
// Delivery to one client runs in EventHub.Pump.cs.
using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Kraken.Daemon.Hosting;
using Kraken.Tree.Reconcile;
using Kraken.Tree.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kraken.Daemon.Events;

/// <summary>What a client wants: nodes (any when empty), a URL prefix, event types and views.</summary>
public sealed record EventFilter(IReadOnlySet<NodeId> Nodes, string? UrlPrefix, bool States, bool Mutations, StateView? View)
{
    public bool Matches(in StateChange c) =>
        States
        && (Nodes.Count == 0 || Nodes.Contains(c.Node))
        && (View is null || View == c.View)
        && (UrlPrefix is null || (c.Url is { } u && u.Path.StartsWith(UrlPrefix, StringComparison.Ordinal)));

    public bool Matches(in MutationEvent e) =>
        Mutations && (Nodes.Count == 0 || Nodes.Contains(e.Node));
}

/// <summary>One serialized event: its type ("state", "mutation" or "overflow") and its JSON.</summary>
public readonly record struct DaemonEvent(string Type, string Json);

/// <summary>
/// One observer on the store and one handler on the reconcile engine feed every client's channel. The
/// callbacks run under the store's write lock or on the engine's executor, so they only serialize and
/// TryWrite; a client whose buffer is full is cut off with an "overflow" event (it must re-read state), and a
/// client that does not take a write within <c>Api:EventWriteTimeout</c> is disconnected (see PumpAsync).
/// </summary>
public sealed partial class EventHub : IStateObserver, IDisposable
{
    private readonly KrakenDaemon _daemon;
    private readonly int _buffer;
    private readonly TimeSpan _writeTimeout;
    private readonly ILogger<EventHub> _logger;
    private readonly Lock _lock = new();
    private readonly IDisposable _subscription;
    private Client[] _clients = [];
    private long _droppedOverflow;
    private long _droppedDeadline;

    public EventHub(KrakenDaemon daemon, IHostApplicationLifetime lifetime, ILogger<EventHub> logger)
    {
        ArgumentNullException.ThrowIfNull(lifetime);
        _daemon = daemon;
        _logger = logger;
        _buffer = daemon.Options.Api.EventBuffer;
        _writeTimeout = daemon.Options.Api.EventWriteTimeout;
        _subscription = daemon.Store.Subscribe(this);
        daemon.MutationEvent += OnMutation;

        // Streams never end by themselves: end them when shutdown begins, or the server waits for them.
        lifetime.ApplicationStopping.Register(CompleteAll);
    }

    public int ClientCount => Volatile.Read(ref _clients).Length;

    /// <summary>Clients cut off because their buffer overflowed (kraken_api_subscribers_dropped_total{reason="overflow"}).</summary>
    public long DroppedOverflow => Interlocked.Read(ref _droppedOverflow);

    /// <summary>Clients disconnected because a write to them outlasted Api:EventWriteTimeout (reason="deadline").</summary>
    public long DroppedDeadline => Interlocked.Read(ref _droppedDeadline);

    /// <summary>Adds a client; dispose the returned handle to leave.</summary>
    public Subscription Subscribe(EventFilter filter)
    {
        var client = new Client(filter, Channel.CreateBounded<DaemonEvent>(new BoundedChannelOptions(_buffer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait }));
        lock (_lock)
        {
            _clients = [.. _clients, client];
        }

        return new Subscription(this, client);
    }

    public void OnChanges(ReadOnlySpan<StateChange> changes)
    {
        var clients = Volatile.Read(ref _clients);
        if (clients.Length == 0)
        {
            return;
        }

        foreach (var c in changes)
        {
            string? json = null;
            foreach (var client in clients)
            {
                if (client.Filter.Matches(c))
                {
                    json ??= Serialize(c);
                    Deliver(client, new DaemonEvent("state", json));
                }
            }
        }
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _daemon.MutationEvent -= OnMutation;
        CompleteAll();
    }

    private void CompleteAll()
    {
        foreach (var c in Volatile.Read(ref _clients))
        {
            c.Channel.Writer.TryComplete();
        }
    }

    private void OnMutation(MutationEvent e)
    {
        string? json = null;
        foreach (var client in Volatile.Read(ref _clients))
        {
            if (client.Filter.Matches(e))
            {
                json ??= Serialize(e);
                Deliver(client, new DaemonEvent("mutation", json));
            }
        }
    }

    private static void Deliver(Client client, DaemonEvent e)
    {
        if (!client.Channel.Writer.TryWrite(e) && !client.Overflowed)
        {
            client.Overflowed = true;
            client.Channel.Writer.TryComplete(new ChannelClosedException("overflow"));
        }
    }

    private void Remove(Client client)
    {
        lock (_lock)
        {
            _clients = [.. _clients.Where(c => !ReferenceEquals(c, client))];
        }

        client.Channel.Writer.TryComplete();
    }

    internal static string Serialize(in StateChange change)
    {
        var c = change;
        return Write(w =>
        {
        w.WriteNumber("seq", c.Sequence);
        w.WriteString("type", "state");
        w.WriteString("kind", c.Kind.ToString());
        w.WriteString("view", c.View == StateView.Cfg ? "cfg" : "dsc");
        w.WriteString("node", c.Node.ToString());
        if (c.Url is { } url)
        {
            w.WriteString("url", url.Path);
            Api.ApiSupport.WriteValue(w, "old", c.Old);
            Api.ApiSupport.WriteValue(w, "new", c.New);
        }

        w.WriteNumber("version", c.Version);
        });
    }

    internal static string Serialize(in MutationEvent e)
    {
        var copy = e;
        return Write(w =>
        {
            w.WriteString("type", "mutation");
            w.WriteString("kind", copy.Kind.ToString());
            w.WriteString("node", copy.Node.ToString());
            w.WriteString("mutation", copy.Mutation);
            w.WriteString("module", copy.Module);
            w.WriteString("at", copy.At);
            if (copy.Reason is { } reason)
            {
                w.WriteString("reason", reason);
            }
        });
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal sealed class Client(EventFilter filter, Channel<DaemonEvent> channel)
    {
        public EventFilter Filter { get; } = filter;

        public Channel<DaemonEvent> Channel { get; } = channel;

        public volatile bool Overflowed;
    }

    /// <summary>A client's place in the hub: read <see cref="Reader"/>; it completes with an error on overflow.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly EventHub _hub;
        private readonly Client _client;

        internal Subscription(EventHub hub, Client client)
        {
            _hub = hub;
            _client = client;
        }

        public ChannelReader<DaemonEvent> Reader => _client.Channel.Reader;

        public bool Overflowed => _client.Overflowed;

        public void Dispose() => _hub.Remove(_client);
    }
}
