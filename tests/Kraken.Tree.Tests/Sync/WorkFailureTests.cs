// A timer callback or pass of the sync engine that throws: logged, counted, armed again; nothing stays stale.
using Kraken.Net.Transport;
using Kraken.Tree.Sync;

namespace Kraken.Tree.Tests.Sync;

public sealed class WorkFailureTests
{
    /// <summary>A transport whose sends throw while <see cref="Failing"/> is set, as a transport with a bug would.</summary>
    private sealed class FailingTransport(ISyncTransport inner) : ISyncTransport
    {
        public bool Failing { get; set; }

        public int Thrown { get; private set; }

        public System.Net.EndPoint LocalEndPoint => inner.LocalEndPoint;

        public int MaxDatagramSize => inner.MaxDatagramSize;

        public int DatagramPort => inner.DatagramPort;

        public void Start(ISyncTransportHandler handler) => inner.Start(handler);

        public void SendDatagram(System.Net.EndPoint remote, ReadOnlySpan<byte> datagram)
        {
            Fail();
            inner.SendDatagram(remote, datagram);
        }

        public IFrameConnection Connect(System.Net.EndPoint remote, object? tag)
        {
            Fail();
            return inner.Connect(remote, tag);
        }

        public System.Net.EndPoint DatagramEndPointOf(IFrameConnection connection, int port) => inner.DatagramEndPointOf(connection, port);

        public ValueTask DisposeAsync() => inner.DisposeAsync();

        private void Fail()
        {
            if (Failing)
            {
                Thrown++;
                throw new InvalidOperationException("the transport failed");
            }
        }
    }

    [Fact]
    public async Task Passes_that_throw_are_counted_and_armed_again_and_every_change_arrives_once_sends_work()
    {
        FailingTransport? failing = null;
        await using var pair = RootAndChild.Start(500, 11, wrapRoot: (t, _) => failing = new FailingTransport(t));

        // Every send throws for 20 s while 500 Cfg changes go in: flushes, retransmissions and hellos all fail.
        failing!.Failing = true;
        pair.RenameAll();
        pair.Time.Advance(TimeSpan.FromSeconds(20));
        failing.Failing = false;
        var counters = pair.RootEngine.Counters;
        Assert.True(failing.Thrown > 0);
        Assert.True(counters.WorkFailures(SyncWork.Flush) + counters.WorkFailures(SyncWork.FlushTimer) > 0, "the failed flushes are counted");
        Assert.True(counters.WorkFailures(SyncWork.Tick) > 0, "the failed hello ticks are counted");

        // Within a few hello intervals of the sends working again, everything is there.
        var hello = pair.RootEngine.Options.HelloInterval;
        Assert.True(pair.Time.RunUntil(() => pair.MissingAtChild() == 0, 4 * hello), $"{pair.MissingAtChild()} of {pair.Below.Length} changes missing {4 * hello} after sends work again");
        Assert.Equal(AdjacencyState.Full, pair.ChildEngine.Parent?.State);
    }
}
