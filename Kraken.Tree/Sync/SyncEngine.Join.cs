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
    private ITimer? _failbackTimer;

    /// <summary>
    /// The secret one join runs on and the join key derived from it: the cluster join secret, or (flag
    /// <see cref="FrameHeader.BootstrapFlag"/>) the child's bootstrap credential for its first join.
    /// </summary>
    private sealed class JoinKeys(byte[] secret, FrameMac mac, bool bootstrap) : IDisposable
    {
        public byte[] Secret { get; } = secret;

        public FrameMac Mac { get; } = mac;

        public bool Bootstrap { get; } = bootstrap;

        public byte Flags => Bootstrap ? FrameHeader.BootstrapFlag : (byte)0;

        // The cluster's join key is the engine's and outlives the join; a bootstrap key is this join's alone.
        public void Dispose()
        {
            if (Bootstrap)
            {
                Mac.Dispose();
            }
        }
    }

    /// <summary>Child side: one attempt to join the parent at <see cref="Index"/>.</summary>
    private sealed class JoinAttempt(int index, TimeSpan started, uint localId, JoinKeys keys)
    {
        public int Index { get; } = index;

        public JoinKeys Keys { get; } = keys;

        /// <summary>This side's id of the adjacency to come, sent in the join request.</summary>
        public uint LocalId { get; } = localId;

        public TimeSpan Started { get; } = started;

        public byte[] ChildNonce { get; } = SyncKeys.NewNonce();

        public IFrameConnection? Connection { get; set; }

        /// <summary>A try at the primary parent while joined to a backup: its failure leaves the current parent as it is.</summary>
        public bool Failback { get; init; }

        public NodeId ParentId { get; set; }

        public byte[]? ParentNonce { get; set; }
    }

    /// <summary>Parent side: a child that asked to join and was sent a challenge.</summary>
    private sealed record PendingJoin(NodeId Child, byte[] ChildNonce, byte[] ParentNonce, TimeSpan Started, JoinKeys Keys);

    /// <summary>Starts a round of join attempts at parent <paramref name="index"/>, after <paramref name="delay"/>.</summary>
    private void BeginJoin(int index, TimeSpan delay)
    {
        if (_join is { Failback: true } failback)
        {
            // The parent it ran beside is gone: this is a real join round now.
            _join = null;
            failback.Connection?.Close();
            failback.Keys.Dispose();
        }

        _nextJoinIndex = index % _options.Parents.Count;
        _joinRoundStart = _nextJoinIndex;
        ArmJoin(delay);
    }

    private void ArmJoin(TimeSpan delay)
    {
        _joinTimer ??= _executor.CreateTimer(_time, static s => ((SyncEngine)s!).Run(SyncWork.Join), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
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

        var attempt = new JoinAttempt(_nextJoinIndex, Now, NewLocalId(), ChildJoinKeys());
        _join = attempt;
        Counters.OnTransition(AdjacencyState.Down, AdjacencyState.Joining);
        PublishSnapshot();
        AdjacencyChanged?.Invoke(new AdjacencyTransition(NodeId.Nil, AdjacencyRole.Parent, AdjacencyState.Down, AdjacencyState.Joining, Now));
        attempt.Connection = _transport.Connect(_options.Parents[attempt.Index], attempt);
        _joinTimer!.Change(_options.JoinTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The cluster join secret once this node holds it; until then (a node booted by its parent) its bootstrap credential.</summary>
    private JoinKeys ChildJoinKeys() => _secret is { } secret
        ? new JoinKeys(secret, _joinMac!, bootstrap: false)
        : new JoinKeys(_options.BootstrapCredential!, new FrameMac(SyncKeys.DeriveJoinKey(_options.BootstrapCredential!)), bootstrap: true);

    /// <summary>Joined to a backup parent: try the primary again after <see cref="SyncOptions.FailbackInterval"/>.</summary>
    private void ArmFailback()
    {
        if (_options.FailbackInterval <= TimeSpan.Zero || _parent is not { ParentIndex: > 0 })
        {
            return;
        }

        _failbackTimer ??= _executor.CreateTimer(_time, static s => ((SyncEngine)s!).Run(SyncWork.Failback), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _failbackTimer.Change(_options.FailbackInterval, Timeout.InfiniteTimeSpan);
    }

    private void OnFailbackTimer()
    {
        if (_stopped || _join is not null || _parent is not { IsUp: true, ParentIndex: > 0 })
        {
            return;
        }

        // The current adjacency stays up while this attempt runs; only an accept from the primary replaces it.
        var attempt = new JoinAttempt(0, Now, NewLocalId(), ChildJoinKeys()) { Failback = true };
        _join = attempt;
        attempt.Connection = _transport.Connect(_options.Parents[0], attempt);
        ArmJoin(_options.JoinTimeout);
    }

    private void CancelJoin()
    {
        _joinTimer?.Dispose();
        _failbackTimer?.Dispose();
        _join?.Connection?.Close();
        _join?.Keys.Dispose();
        _join = null;
        foreach (var c in _pendingJoins)
        {
            (c.Tag as PendingJoin)?.Keys.Dispose();
            c.Close();
        }

        _pendingJoins.Clear();
    }

    private void JoinFailed(string reason)
    {
        var attempt = _join!;
        _join = null;
        Counters.OnJoinFailed();
        attempt.Connection?.Close();
        attempt.Keys.Dispose();
        if (attempt.Failback)
        {
            // The primary is not back yet (or refuses): stay with the backup and try again later.
            SyncLog.JoinFailed(_logger, 0, attempt.Index, _options.Parents[attempt.Index], $"fail-back: {reason}", _options.FailbackInterval);
            ArmFailback();
            return;
        }

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
        SendJoinFrame(connection, MessageType.JoinRequest, request, attempt.Keys);
    }

    private void SendJoinFrame(IFrameConnection connection, MessageType type, IMessage message, JoinKeys keys, ulong sequence = 1)
    {
        var frame = FrameCodec.ToArray(type, _selfWire, sequence, message.ToByteArray(), keys.Mac, keys.Flags);
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
                    OnJoinRequest(connection, header, frame, payload);
                    return;
                case MessageType.JoinChallenge when connection.Tag is JoinAttempt a && ReferenceEquals(a, _join):
                    OnJoinChallenge(a, frame, JoinChallenge.Parser.ParseFrom(payload));
                    return;
                case MessageType.JoinAccept when connection.Tag is JoinAttempt a && ReferenceEquals(a, _join) && a.ParentNonce is not null:
                    OnJoinAccept(a, frame, JoinAccept.Parser.ParseFrom(payload));
                    return;
                case MessageType.JoinReject when connection.Tag is JoinAttempt a && ReferenceEquals(a, _join):
                    if (!FrameCodec.Verify(frame, a.Keys.Mac))
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
        if (!FrameCodec.Verify(frame, attempt.Keys.Mac))
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
        var proof = SyncKeys.ComputeProof(attempt.Keys.Secret, attempt.ParentNonce, attempt.ChildNonce, _selfWire, Adjacency.Wire(attempt.ParentId));
        var request = new JoinRequest
        {
            ChildId = ByteString.CopyFrom(Self.ToByteArray()),
            ChildNonce = ByteString.CopyFrom(attempt.ChildNonce),
            Proof = ByteString.CopyFrom(proof),
            DatagramPort = (uint)_transport.DatagramPort,
            AdjacencyId = attempt.LocalId,
        };
        SendJoinFrame(attempt.Connection!, MessageType.JoinRequest, request, attempt.Keys, 2);
    }

    private void OnJoinAccept(JoinAttempt attempt, ReadOnlySpan<byte> frame, JoinAccept accept)
    {
        var key = SyncKeys.DeriveAdjacencyKey(attempt.Keys.Secret, attempt.ChildNonce, attempt.ParentNonce!, _selfWire, Adjacency.Wire(attempt.ParentId));
        // Where the join's stream went: a parent configured by host name is reached at the address it resolved to.
        var adj = new Adjacency(attempt.ParentId, AdjacencyRole.Parent, key, attempt.Connection?.RemoteEndPoint ?? _options.Parents[attempt.Index], Now)
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
        records.RemoveAll(r => !Admit(r, attempt.ParentId));
        if (dsc is not null && !Admit(dsc, attempt.ParentId))
        {
            dsc = null;
        }
        if (dsc is not null && dsc.Id != Self)
        {
            adj.Dispose();
            throw new ArgumentException($"join accept: the Dsc record is for {dsc.Id}, not {Self}");
        }

        JoinSecrets? secrets = null;
        if (!accept.Secrets.IsEmpty)
        {
            try
            {
                var sealedKey = SyncKeys.DeriveSecretsKey(attempt.Keys.Secret, attempt.ChildNonce, attempt.ParentNonce!, _selfWire, Adjacency.Wire(attempt.ParentId));
                secrets = JoinSecrets.Parser.ParseFrom(SecretBox.Open(sealedKey, accept.Secrets.Span, SecretsContext(Self, attempt.ParentId)));
            }
            catch (CryptographicException ex)
            {
                adj.Dispose();
                throw new ArgumentException($"join accept: the sealed secrets do not open: {ex.Message}");
            }

            if (secrets.JoinSecret.Length < 16)
            {
                adj.Dispose();
                throw new ArgumentException("join accept: the sealed join secret is shorter than 16 bytes");
            }
        }

        adj.Window.Accept(FrameHeader.Read(frame, _options.MaxMessageSize).Sequence);
        _join = null;
        _joinTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _joinFailures = 0;
        attempt.Connection?.Close();
        attempt.Keys.Dispose();
        if (secrets is not null && _secret is null)
        {
            // The first join of a node booted with a bootstrap credential: from now on it joins (and admits its own
            // children) with the cluster's secret; the credential was single-use.
            _joinMac = new FrameMac(SyncKeys.DeriveJoinKey(secrets.JoinSecret.Span));
            Volatile.Write(ref _secret, secrets.JoinSecret.ToByteArray());
        }
        else if (attempt.Keys.Bootstrap)
        {
            SyncLog.NoSecrets(_logger, attempt.ParentId);
        }

        // The cluster's control state first: a node that joins a frozen cluster is frozen before its Cfg arrives.
        if (accept.Control is { } control)
        {
            ApplyControl(new ClusterControl(control.Version, control.Frozen), fromJoin: true);
        }
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
                else
                {
                    if (dsc.RunState is { } run)
                    {
                        store.Set(StateView.Dsc, Self, _store.Schema.RunState, StateValue.FromEnum(run));
                    }

                    if (dsc.ParentId is { } attached)
                    {
                        store.Set(StateView.Dsc, Self, _store.Schema.ParentId, StateValue.FromNodeId(attached));
                    }
                }
            }
        });

        SyncLog.Joined(_logger, adj.Peer, adj.EndPoint, records.Count);
        if (secrets is not null)
        {
            SecretsReceived?.Invoke(secrets.Credentials);
        }

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

    private void OnJoinRequest(IFrameConnection connection, in FrameHeader header, ReadOnlySpan<byte> frame, ReadOnlySpan<byte> payload)
    {
        var bootstrap = (header.Flags & FrameHeader.BootstrapFlag) != 0;
        var sender = new NodeId((ulong)(header.Sender >> 64), (ulong)header.Sender);
        var pending = connection.Tag as PendingJoin;
        var keys = pending is { } p0 && p0.Keys.Bootstrap == bootstrap ? p0.Keys : RequestKeys(connection, sender, bootstrap);
        if (keys is null)
        {
            return;
        }

        if (!FrameCodec.Verify(frame, keys.Mac))
        {
            Drop(DropReason.BadMac, MessageType.JoinRequest, bootstrap ? "join request not under the bootstrap credential" : "join request not under the cluster join key");
            Refuse(connection, null, "bad_mac", bootstrap ? "not authenticated with a bootstrap credential" : "not authenticated with the cluster join secret", keys, reply: false);
            DisposeUnlessPending(keys, pending);
            return;
        }

        var request = JoinRequest.Parser.ParseFrom(payload);
        if (request.ChildId.Length != NodeId.Size || request.ChildNonce.Length != SyncKeys.NonceSize)
        {
            DisposeUnlessPending(keys, pending);
            throw new ArgumentException("join request: child id and nonce must be 16 bytes each");
        }

        var child = new NodeId(request.ChildId.Span);
        if (bootstrap && child != sender)
        {
            DisposeUnlessPending(keys, pending);
            throw new ArgumentException($"join request: the child id {child} is not the sender {sender} the credential was checked for");
        }

        if (!Admissible(child, out var why))
        {
            Drop(DropReason.UnknownSender, MessageType.JoinRequest, why);
            Refuse(connection, child, "unknown_node", why, keys, reply: true);
            DisposeUnlessPending(keys, pending);
            return;
        }

        if (request.Proof.IsEmpty)
        {
            // Step 2: challenge with a fresh nonce.
            var challenged = new PendingJoin(child, request.ChildNonce.ToByteArray(), SyncKeys.NewNonce(), Now, keys);
            if (pending is not null && !ReferenceEquals(pending.Keys, keys))
            {
                pending.Keys.Dispose();
            }

            connection.Tag = challenged;
            if (pending is null)
            {
                _pendingJoins.Add(connection);
            }
            var challenge = new JoinChallenge { ParentId = ByteString.CopyFrom(Self.ToByteArray()), ParentNonce = ByteString.CopyFrom(challenged.ParentNonce) };
            SendJoinFrame(connection, MessageType.JoinChallenge, challenge, keys);
            return;
        }

        if (pending is not { } p || p.Child != child || !request.ChildNonce.Span.SequenceEqual(p.ChildNonce) || !ReferenceEquals(p.Keys, keys))
        {
            Drop(DropReason.UnknownSender, MessageType.JoinRequest, "proof without a matching challenge");
            Refuse(connection, child, "out_of_turn", "proof without a matching challenge", keys, reply: true);
            DisposeUnlessPending(keys, pending);
            return;
        }

        var expected = SyncKeys.ComputeProof(p.Keys.Secret, p.ParentNonce, p.ChildNonce, Adjacency.Wire(child), _selfWire);
        if (!CryptographicOperations.FixedTimeEquals(expected, request.Proof.Span))
        {
            Drop(DropReason.BadMac, MessageType.JoinRequest, "bad join proof");
            Refuse(connection, child, "bad_proof", "bad join proof", keys, reply: true);
            return;
        }

        _pendingJoins.Remove(connection);
        Admit(connection, p, (int)request.DatagramPort, request.AdjacencyId);
    }

    /// <summary>
    /// The keys a join request must be under: the cluster's join key, or, for a bootstrap join, the key of the
    /// credential issued to the sender, if it may be used from where the request comes. Null (refused, counted) if none.
    /// </summary>
    private JoinKeys? RequestKeys(IFrameConnection connection, NodeId sender, bool bootstrap)
    {
        if (!bootstrap)
        {
            if (_joinMac is null || _secret is null)
            {
                Refuse(connection, sender, "no_secret", "this node does not hold the cluster join secret yet", null, reply: false);
                return null;
            }

            return new JoinKeys(_secret, _joinMac, bootstrap: false);
        }

        if (_options.Bootstrap is not { } issued)
        {
            Refuse(connection, sender, "bootstrap_unknown", "this node issues no bootstrap credentials", null, reply: false);
            return null;
        }

        if (!issued.TryGet(sender, connection.RemoteEndPoint, out var secret, out var refusal))
        {
            // No reply: without the credential (or to a stranger) nothing could be authenticated.
            var (tag, text) = refusal switch
            {
                BootstrapRefusal.Used => ("bootstrap_used", "the bootstrap credential was used already"),
                BootstrapRefusal.Expired => ("bootstrap_expired", "the bootstrap credential expired"),
                BootstrapRefusal.WrongHost => ("bootstrap_wrong_host", $"the bootstrap credential was issued to another host than {connection.RemoteEndPoint}"),
                _ => ("bootstrap_unknown", "no bootstrap credential was issued to this node"),
            };
            Refuse(connection, sender, tag, text, null, reply: false);
            return null;
        }

        return new JoinKeys(secret, new FrameMac(SyncKeys.DeriveJoinKey(secret)), bootstrap: true);
    }

    private static void DisposeUnlessPending(JoinKeys keys, PendingJoin? pending)
    {
        if (!ReferenceEquals(pending?.Keys, keys))
        {
            keys.Dispose();
        }
    }

    /// <summary>What a sealed JoinSecrets is bound to: the child's and the parent's ids.</summary>
    private static byte[] SecretsContext(NodeId child, NodeId parent)
    {
        var context = new byte[2 * NodeId.Size];
        child.ToByteArray().CopyTo(context, 0);
        parent.ToByteArray().CopyTo(context, NodeId.Size);
        return context;
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

    private void Refuse(IFrameConnection connection, NodeId? child, string reasonTag, string reason, JoinKeys? keys, bool reply)
    {
        Counters.OnRefusal(reasonTag);
        SyncLog.JoinRefused(_logger, child ?? NodeId.Nil, reason);
        if (reply && keys is not null)
        {
            SendJoinFrame(connection, MessageType.JoinReject, new JoinReject { Reason = reason }, keys);
        }
        else
        {
            connection.Close();
        }

        if (_pendingJoins.Remove(connection) && connection.Tag is PendingJoin p)
        {
            p.Keys.Dispose();
        }
    }

    private void Admit(IFrameConnection connection, PendingJoin join, int datagramPort, uint childAdjacencyId)
    {
        var key = SyncKeys.DeriveAdjacencyKey(join.Keys.Secret, join.ChildNonce, join.ParentNonce, Adjacency.Wire(join.Child), _selfWire);
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
        SetLost(join.Child, false);

        // The parent's view of the child: joined (SYNC), and attached here (Dsc /ParentId, which may differ from its
        // Cfg's after a fail-over): every tier above follows the report of the parent the node is attached to.
        var before = _store.GetRequired(StateView.Dsc, join.Child).Version;
        _store.Batch(store =>
        {
            store.Set(StateView.Dsc, join.Child, _store.Schema.RunState, StateValue.FromEnum(RunState.Sync));
            store.Set(StateView.Dsc, join.Child, _store.Schema.ParentId, StateValue.FromNodeId(Self));
        });
        if (_store.GetRequired(StateView.Dsc, join.Child) is { } joined && joined.Version == before)
        {
            // Nothing changed here: the child left and came back before this node saw it go (it heard the child, the
            // child did not hear it). Meanwhile the tiers above followed another parent's report of it; a new version
            // of the same record is this node's claim again.
            _store.Replace(StateView.Dsc, joined, version: joined.Version + 1);
            Reannounce(join.Child);
        }

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

        if (_control.Version > 0)
        {
            accept.Control = new Control { Version = _control.Version, Frozen = _control.Frozen };
        }

        if (join.Keys.Bootstrap)
        {
            // The credential is spent; the child gets what it needs to go on, sealed for this join only.
            _options.Bootstrap!.Consume(join.Child);
            var secrets = new JoinSecrets();
            if (_secret is not null)
            {
                secrets.JoinSecret = ByteString.CopyFrom(_secret);
            }

            if (_options.SecretsFor?.Invoke(join.Child, adj.Flowing) is { } named)
            {
                foreach (var (name, value) in named)
                {
                    secrets.Credentials[name] = value;
                }
            }

            var sealedKey = SyncKeys.DeriveSecretsKey(join.Keys.Secret, join.ChildNonce, join.ParentNonce, Adjacency.Wire(join.Child), _selfWire);
            accept.Secrets = ByteString.CopyFrom(SecretBox.Seal(sealedKey, secrets.ToByteArray(), SecretsContext(join.Child, Self)));
        }

        join.Keys.Dispose();
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
                p.Keys.Dispose();
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
