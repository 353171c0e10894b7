// Joining: the child's attempts (primary parent first, then backups, with backoff) and the parent's admission.
using System.Security.Cryptography;
using Google.Protobuf;
using Kraken.Net.Execution;
using Kraken.Net.Sync;
using Kraken.Net.Sync.Proto;
using Kraken.Net.Transport;
using Kraken.Tree.State;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.Sync;

public sealed partial class SyncEngine
{
    private readonly List<IFrameConnection> _pendingJoins = [];
    private JoinAttempt? _join;
    private ITimer? _joinTimer;
    private int _joinFailures;
    private int _nextJoinIndex;
    private int _joinRoundStart;

    /// <summary>Child side: one attempt to join the parent at <see cref="Index"/>.</summary>
    private sealed class JoinAttempt(int index, TimeSpan started, uint localId)
    {
        public int Index { get; } = index;

        /// <summary>This side's id of the adjacency to come, sent in the join request.</summary>
        public uint LocalId { get; } = localId;

        public TimeSpan Started { get; } = started;

        public byte[] ChildNonce { get; } = SyncKeys.NewNonce();

        public IFrameConnection? Connection { get; set; }

        public NodeId ParentId { get; set; }

        public byte[]? ParentNonce { get; set; }
    }

    /// <summary>Parent side: a child that asked to join and was sent a challenge.</summary>
    private sealed record PendingJoin(NodeId Child, byte[] ChildNonce, byte[] ParentNonce, TimeSpan Started);

    /// <summary>Starts a round of join attempts at parent <paramref name="index"/>, after <paramref name="delay"/>.</summary>
    private void BeginJoin(int index, TimeSpan delay)
    {
        _nextJoinIndex = index % _options.Parents.Count;
        _joinRoundStart = _nextJoinIndex;
        ArmJoin(delay);
    }

    private void ArmJoin(TimeSpan delay)
    {
        _joinTimer ??= _executor.CreateTimer(_time, static s => ((SyncEngine)s!).OnJoinTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _joinTimer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    private void OnJoinTimer()
    {
        if (_stopped)
        {
            return;
        }

        if (_join is { } current)
        {
            // The timer was armed for this attempt's deadline.
            if (Now - current.Started >= _options.JoinTimeout)
            {
                JoinFailed($"no answer within {_options.JoinTimeout}");
            }

            return;
        }

        if (_parent is { IsUp: true })
        {
            return;
        }

        var attempt = new JoinAttempt(_nextJoinIndex, Now, NewLocalId());
        _join = attempt;
        Counters.OnTransition(AdjacencyState.Down, AdjacencyState.Joining);
        PublishSnapshot();
        AdjacencyChanged?.Invoke(new AdjacencyTransition(NodeId.Nil, AdjacencyRole.Parent, AdjacencyState.Down, AdjacencyState.Joining, Now));
        attempt.Connection = _transport.Connect(_options.Parents[attempt.Index], attempt);
        _joinTimer!.Change(_options.JoinTimeout, Timeout.InfiniteTimeSpan);
    }

    private void CancelJoin()
    {
        _joinTimer?.Dispose();
        _join?.Connection?.Close();
        _join = null;
        foreach (var c in _pendingJoins)
        {
            c.Close();
        }

        _pendingJoins.Clear();
    }

    private void JoinFailed(string reason)
    {
        var attempt = _join!;
        _join = null;
        attempt.Connection?.Close();

        // Within a round the next parent is tried at once; a round that failed everywhere backs off, doubling,
        // and the next round starts again from the primary.
        _nextJoinIndex = (attempt.Index + 1) % _options.Parents.Count;
        var delay = TimeSpan.Zero;
        if (_nextJoinIndex == _joinRoundStart)
        {
            _joinFailures++;
            var doubling = Math.Min(_joinFailures - 1, 16);
            var backoff = TimeSpan.FromTicks(Math.Min(_options.JoinBackoffMaximum.Ticks, _options.JoinBackoff.Ticks << doubling));
            delay = backoff * (0.5 + (0.5 * _random.NextDouble()));
            _nextJoinIndex = _joinRoundStart = 0;
        }

        SyncLog.JoinFailed(_logger, _joinFailures, attempt.Index, _options.Parents[attempt.Index], reason, delay);
        PublishSnapshot();
        AdjacencyChanged?.Invoke(new AdjacencyTransition(attempt.ParentId, AdjacencyRole.Parent, AdjacencyState.Joining, AdjacencyState.Down, Now));
        Counters.OnTransition(AdjacencyState.Joining, AdjacencyState.Down);
        ArmJoin(delay);
    }

    private void OnJoinConnected(IFrameConnection connection, JoinAttempt attempt)
    {
        if (!ReferenceEquals(attempt, _join))
        {
            connection.Close();
            return;
        }

        // Step 1: who we are and our nonce; the parent answers with its challenge.
        var request = new JoinRequest
        {
            ChildId = ByteString.CopyFrom(Self.ToByteArray()),
            ChildNonce = ByteString.CopyFrom(attempt.ChildNonce),
            DatagramPort = (uint)_transport.DatagramPort,
            AdjacencyId = attempt.LocalId,
        };
        SendJoinFrame(connection, MessageType.JoinRequest, request, _joinMac);
    }

    private void SendJoinFrame(IFrameConnection connection, MessageType type, IMessage message, FrameMac mac, ulong sequence = 1)
    {
        var frame = FrameCodec.ToArray(type, _selfWire, sequence, message.ToByteArray(), mac);
        connection.Send(frame);
        Counters.OnSent(type, frame.Length);
    }

    private void OnJoinFrame(IFrameConnection connection, in FrameHeader header, ReadOnlySpan<byte> frame)
    {
        var payload = FrameCodec.Payload(frame, header);
        try
        {
            switch (header.Type)
            {
                case MessageType.JoinRequest when !connection.IsOutbound:
                    OnJoinRequest(connection, frame, JoinRequest.Parser.ParseFrom(payload));
                    return;
                case MessageType.JoinChallenge when connection.Tag is JoinAttempt a && ReferenceEquals(a, _join):
                    OnJoinChallenge(a, frame, JoinChallenge.Parser.ParseFrom(payload));
                    return;
                case MessageType.JoinAccept when connection.Tag is JoinAttempt a && ReferenceEquals(a, _join) && a.ParentNonce is not null:
                    OnJoinAccept(a, frame, JoinAccept.Parser.ParseFrom(payload));
                    return;
                case MessageType.JoinReject when connection.Tag is JoinAttempt a && ReferenceEquals(a, _join):
                    if (!FrameCodec.Verify(frame, _joinMac))
                    {
                        Drop(DropReason.BadMac, header.Type, "join reject");
                        return;
                    }

                    JoinFailed($"refused: {JoinReject.Parser.ParseFrom(payload).Reason}");
                    return;
                default:
                    Drop(DropReason.UnknownSender, header.Type, "join message out of turn");
                    return;
            }
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or StateException or ArgumentException)
        {
            Drop(DropReason.Malformed, header.Type, ex.Message);
            if (connection.Tag is JoinAttempt a && ReferenceEquals(a, _join))
            {
                JoinFailed($"malformed {SyncProtocolNames.Name(header.Type)}: {ex.Message}");
            }
            else
            {
                connection.Close();
            }
        }
    }

    // ---- Child side ----

    private void OnJoinChallenge(JoinAttempt attempt, ReadOnlySpan<byte> frame, JoinChallenge challenge)
    {
        if (!FrameCodec.Verify(frame, _joinMac))
        {
            Drop(DropReason.BadMac, MessageType.JoinChallenge, "the parent does not hold our join secret");
            JoinFailed("the parent failed authentication");
            return;
        }

        if (challenge.ParentNonce.Length != SyncKeys.NonceSize || challenge.ParentId.Length != NodeId.Size)
        {
            throw new ArgumentException("join challenge: nonce and parent id must be 16 bytes each");
        }

        attempt.ParentId = new NodeId(challenge.ParentId.Span);
        attempt.ParentNonce = challenge.ParentNonce.ToByteArray();
        PublishSnapshot();
        var proof = SyncKeys.ComputeProof(_options.JoinSecret, attempt.ParentNonce, attempt.ChildNonce, _selfWire, Adjacency.Wire(attempt.ParentId));
        var request = new JoinRequest
        {
            ChildId = ByteString.CopyFrom(Self.ToByteArray()),
            ChildNonce = ByteString.CopyFrom(attempt.ChildNonce),
            Proof = ByteString.CopyFrom(proof),
            DatagramPort = (uint)_transport.DatagramPort,
            AdjacencyId = attempt.LocalId,
        };
        SendJoinFrame(attempt.Connection!, MessageType.JoinRequest, request, _joinMac, 2);
    }

    private void OnJoinAccept(JoinAttempt attempt, ReadOnlySpan<byte> frame, JoinAccept accept)
    {
        var key = SyncKeys.DeriveAdjacencyKey(_options.JoinSecret, attempt.ChildNonce, attempt.ParentNonce!, _selfWire, Adjacency.Wire(attempt.ParentId));
        var adj = new Adjacency(attempt.ParentId, AdjacencyRole.Parent, key, _options.Parents[attempt.Index], Now)
        {
            ParentIndex = attempt.Index,
            LocalId = attempt.LocalId,
            RemoteId = accept.AdjacencyId,
        };
        if (!FrameCodec.Verify(frame, adj.Mac))
        {
            adj.Dispose();
            Drop(DropReason.BadMac, MessageType.JoinAccept, "accept not under the derived adjacency key");
            JoinFailed("the parent failed authentication");
            return;
        }

        // Decode everything first: a malformed accept changes nothing.
        var records = accept.Cfg.Select(b => NodeRecordCodec.FromBytes(b.Span, _store.Schema)).ToList();
        var dsc = accept.Dsc.IsEmpty ? null : NodeRecordCodec.FromBytes(accept.Dsc.Span, _store.Schema);
        if (dsc is not null && dsc.Id != Self)
        {
            adj.Dispose();
            throw new ArgumentException($"join accept: the Dsc record is for {dsc.Id}, not {Self}");
        }

        adj.Window.Accept(FrameHeader.Read(frame, _options.MaxMessageSize).Sequence);
        _join = null;
        _joinTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _joinFailures = 0;
        attempt.Connection?.Close();
        if (_parent is { } old)
        {
            Unregister(old);
            old.Dispose();
        }

        adj.State = AdjacencyState.Joining;
        _parent = adj;
        Register(adj);
        _store.Batch(store =>
        {
            foreach (var record in records)
            {
                ApplyCfg(record);
                adj.Received.Set(record.Id, record.Version);
            }

            if (dsc is not null)
            {
                var own = store.GetRequired(StateView.Dsc, Self);
                if (!own.Values().Any())
                {
                    // A fresh (restarted) node takes back its last known Dsc; a live one keeps its own, fresher one.
                    store.Replace(StateView.Dsc, dsc);
                }
                else if (dsc.RunState is { } run)
                {
                    store.Set(StateView.Dsc, Self, _store.Schema.RunState, StateValue.FromEnum(run));
                }
            }
        });

        SyncLog.Joined(_logger, adj.Peer, adj.EndPoint, records.Count);
        SetState(adj, AdjacencyState.Exchange);
        RebuildTopology();
        adj.Flowing = UpwardSet();
        foreach (var id in adj.Flowing)
        {
            MarkDirty(adj, id);
        }
    }

    private void ApplyCfg(NodeRecord record)
    {
        if (_store.Contains(record.Id))
        {
            _store.Replace(StateView.Cfg, record);
        }
        else
        {
            _store.Create(record);
        }
    }

    // ---- Parent side ----

    private void OnJoinRequest(IFrameConnection connection, ReadOnlySpan<byte> frame, JoinRequest request)
    {
        if (!FrameCodec.Verify(frame, _joinMac))
        {
            Drop(DropReason.BadMac, MessageType.JoinRequest, "join request not under the cluster join key");
            Refuse(connection, null, "bad_mac", "not authenticated with the cluster join secret", reply: false);
            return;
        }

        if (request.ChildId.Length != NodeId.Size || request.ChildNonce.Length != SyncKeys.NonceSize)
        {
            throw new ArgumentException("join request: child id and nonce must be 16 bytes each");
        }

        var child = new NodeId(request.ChildId.Span);
        if (!Admissible(child, out var why))
        {
            Drop(DropReason.UnknownSender, MessageType.JoinRequest, why);
            Refuse(connection, child, "unknown_node", why, reply: true);
            return;
        }

        if (request.Proof.IsEmpty)
        {
            // Step 2: challenge with a fresh nonce.
            var pending = new PendingJoin(child, request.ChildNonce.ToByteArray(), SyncKeys.NewNonce(), Now);
            connection.Tag = pending;
            _pendingJoins.Add(connection);
            var challenge = new JoinChallenge { ParentId = ByteString.CopyFrom(Self.ToByteArray()), ParentNonce = ByteString.CopyFrom(pending.ParentNonce) };
            SendJoinFrame(connection, MessageType.JoinChallenge, challenge, _joinMac);
            return;
        }

        if (connection.Tag is not PendingJoin p || p.Child != child || !request.ChildNonce.Span.SequenceEqual(p.ChildNonce))
        {
            Drop(DropReason.UnknownSender, MessageType.JoinRequest, "proof without a matching challenge");
            Refuse(connection, child, "out_of_turn", "proof without a matching challenge", reply: true);
            return;
        }

        var expected = SyncKeys.ComputeProof(_options.JoinSecret, p.ParentNonce, p.ChildNonce, Adjacency.Wire(child), _selfWire);
        if (!CryptographicOperations.FixedTimeEquals(expected, request.Proof.Span))
        {
            Drop(DropReason.BadMac, MessageType.JoinRequest, "bad join proof");
            Refuse(connection, child, "bad_proof", "bad join proof", reply: true);
            return;
        }

        _pendingJoins.Remove(connection);
        Admit(connection, p, (int)request.DatagramPort, request.AdjacencyId);
    }

    private bool Admissible(NodeId child, out string why)
    {
        if (child == Self || child.IsNil)
        {
            why = $"{child} cannot join itself";
            return false;
        }

        var cfg = _store.Get(StateView.Cfg, child);
        if (cfg is null)
        {
            why = $"{child} is not in this node's Cfg";
            return false;
        }

        if (!cfg.Parents().Contains(Self))
        {
            why = $"{child} names neither this node ({Self}) as parent nor as backup parent";
            return false;
        }

        why = string.Empty;
        return true;
    }

    private void Refuse(IFrameConnection connection, NodeId? child, string reasonTag, string reason, bool reply)
    {
        Counters.OnRefusal(reasonTag);
        SyncLog.JoinRefused(_logger, child ?? NodeId.Nil, reason);
        if (reply)
        {
            SendJoinFrame(connection, MessageType.JoinReject, new JoinReject { Reason = reason }, _joinMac);
        }
        else
        {
            connection.Close();
        }

        _pendingJoins.Remove(connection);
    }

    private void Admit(IFrameConnection connection, PendingJoin join, int datagramPort, uint childAdjacencyId)
    {
        var key = SyncKeys.DeriveAdjacencyKey(_options.JoinSecret, join.ChildNonce, join.ParentNonce, Adjacency.Wire(join.Child), _selfWire);
        if (_children.TryGetValue(join.Child, out var old))
        {
            // A restarted child: its old adjacency and everything learnt over it go.
            SetState(old, AdjacencyState.Down);
            ReleaseAll(old);
            _children.Remove(join.Child);
            Unregister(old);
            old.Dispose();
        }

        var adj = new Adjacency(join.Child, AdjacencyRole.Child, key, _transport.DatagramEndPointOf(connection, datagramPort), Now)
        {
            State = AdjacencyState.Down,
            LocalId = NewLocalId(),
            RemoteId = childAdjacencyId,
        };
        _children[join.Child] = adj;
        Register(adj);
        ChildrenChanged();
        _store.Set(StateView.Dsc, join.Child, _store.Schema.RunState, StateValue.FromEnum(RunState.Sync));

        var accept = new JoinAccept
        {
            HelloIntervalMs = (uint)_options.HelloInterval.TotalMilliseconds,
            DeadIntervalMs = (uint)_options.DeadInterval.TotalMilliseconds,
            AdjacencyId = adj.LocalId,
            Dsc = ByteString.CopyFrom(NodeRecordCodec.ToBytes(_store.GetRequired(StateView.Dsc, join.Child))),
        };
        adj.Flowing = SubtreeOf(join.Child);
        foreach (var id in Sorted(adj.Flowing))
        {
            if (_store.Get(StateView.Cfg, id) is { } record)
            {
                accept.Cfg.Add(ByteString.CopyFrom(NodeRecordCodec.ToBytes(record)));
                adj.Advertised.Set(id, record.Version);
            }
        }

        var frame = FrameCodec.ToArray(MessageType.JoinAccept, _selfWire, ++adj.SendSequence, accept.ToByteArray(), adj.Mac);
        connection.Send(frame);
        Counters.OnSent(MessageType.JoinAccept, frame.Length);
        SetState(adj, AdjacencyState.Exchange);
        UpwardAdd(join.Child);
    }

    private void SweepPendingJoins()
    {
        for (var i = _pendingJoins.Count - 1; i >= 0; i--)
        {
            if (_pendingJoins[i].Tag is PendingJoin p && Now - p.Started >= _options.JoinTimeout)
            {
                _pendingJoins[i].Close();
                _pendingJoins.RemoveAt(i);
            }
        }
    }

    private static List<NodeId> Sorted(IEnumerable<NodeId> ids)
    {
        var list = new List<NodeId>(ids);
        list.Sort();
        return list;
    }
}
