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

/// <summary>
/// One serialized event: its type ("state", "mutation", "reset", "overflow", or "subscribed" for the SSE opening), its
/// JSON, and its id (<see cref="EventHub.EventId"/>) where it has one: overflow has none, so a client cut off keeps
/// the id of the last event it was given and can resume from there.
/// </summary>
public readonly record struct DaemonEvent(string Type, string Json, string? Id = null);

/// <summary>
/// One observer on the store and one handler on the reconcile engine feed every client's channel. The
/// callbacks run under the store's write lock or on the engine's executor, so they only number, record, serialize
/// and TryWrite; a client whose buffer is full is cut off with an "overflow" event (it may resume from its last id,
/// see EventHub.Replay.cs), and a client that does not take a write within <c>Api:EventWriteTimeout</c> is
/// disconnected (see PumpAsync).
/// </summary>
public sealed partial class EventHub : IStateObserver, IDisposable
{
    private readonly KrakenDaemon _daemon;
    private readonly int _buffer;
    private readonly TimeSpan _writeTimeout;
    private readonly ILogger<EventHub> _logger;

    // Numbering, recording and delivery happen under this lock, so every client sees ids in increasing order and a
    // subscription starts at an exact place in the sequence. Nothing under it waits: TryWrite never blocks.
    private readonly Lock _lock = new();
    private readonly IDisposable _subscription;
    private Client[] _clients = [];
    private bool _stopping;
    private long _droppedOverflow;
    private long _droppedDeadline;

    public EventHub(KrakenDaemon daemon, IHostApplicationLifetime lifetime, ILogger<EventHub> logger)
    {
        ArgumentNullException.ThrowIfNull(lifetime);
        _daemon = daemon;
        _logger = logger;
        _buffer = daemon.Options.Api.EventBuffer;
        _writeTimeout = daemon.Options.Api.EventWriteTimeout;
        _ring = new Recorded[daemon.Options.Api.EventReplay];
        _run = NewRunId();
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

    /// <summary>
    /// Adds a client; dispose the returned handle to leave. With <paramref name="lastEventId"/> (a reconnecting
    /// client's <c>Last-Event-ID</c>), the subscription's <see cref="Subscription.Opening"/> holds the recorded events
    /// after it that match the filter, or a reset event when they are no longer all recorded.
    /// </summary>
    public Subscription Subscribe(EventFilter filter, string? lastEventId = null)
    {
        var client = new Client(filter, Channel.CreateBounded<DaemonEvent>(new BoundedChannelOptions(_buffer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait }));
        lock (_lock)
        {
            // Under the lock: no event falls between what is replayed and what the channel receives.
            var start = Resume(lastEventId);
            _clients = [.. _clients, client];
            if (_stopping)
            {
                // Shutdown has begun: the stream ends after its opening, so it holds no request open.
                client.Channel.Writer.TryComplete();
            }

            return new Subscription(this, client, start);
        }
    }

    public void OnChanges(ReadOnlySpan<StateChange> changes)
    {
        lock (_lock)
        {
            foreach (var c in changes)
            {
                Publish(c, new Recorded(c), "state", static (f, x) => f.Matches(x), static x => Serialize(x));
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
        lock (_lock)
        {
            _stopping = true;
            foreach (var c in _clients)
            {
                c.Channel.Writer.TryComplete();
            }
        }
    }

    private void OnMutation(MutationEvent e)
    {
        lock (_lock)
        {
            Publish(e, new Recorded(e), "mutation", static (f, x) => f.Matches(x), static x => Serialize(x));
        }
    }

    /// <summary>
    /// Numbers and records one event, then gives it to every client whose filter wants it, serialized once (under
    /// the lock; the delegates are static, so this allocates only the JSON and the id, and only for a taker).
    /// </summary>
    private void Publish<T>(in T e, in Recorded recorded, string type, Func<EventFilter, T, bool> matches, Func<T, string> serialize)
    {
        var seq = Record(recorded);
        string? json = null;
        string? id = null;
        foreach (var client in _clients)
        {
            if (matches(client.Filter, e))
            {
                json ??= serialize(e);
                id ??= EventId(seq);
                Deliver(client, new DaemonEvent(type, json, id));
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

    /// <summary>
    /// A client's place in the hub: send <see cref="Opening"/> first, then read <see cref="Reader"/>; it completes
    /// with an error on overflow.
    /// </summary>
    public sealed class Subscription : IDisposable
    {
        private readonly EventHub _hub;
        private readonly Client _client;
        private readonly Start _start;

        internal Subscription(EventHub hub, Client client, Start start)
        {
            _hub = hub;
            _client = client;
            _start = start;
        }

        public ChannelReader<DaemonEvent> Reader => _client.Channel.Reader;

        /// <summary>
        /// What goes out before the live events: for a new client its position (an SSE comment with an id, so a
        /// client that saw no event yet still resumes from here); for a reconnecting one the events it missed, or a
        /// reset when some are gone.
        /// </summary>
        public IEnumerable<DaemonEvent> Opening() => _hub.Opening(_start, _client.Filter);

        public bool Overflowed => _client.Overflowed;

        public void Dispose() => _hub.Remove(_client);
    }
}
