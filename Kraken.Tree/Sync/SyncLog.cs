// Log messages of the sync engine, with stable event ids.
using System.Net;
using Kraken.Net.Sync;
using Kraken.Tree.State;
using Microsoft.Extensions.Logging;

namespace Kraken.Tree.Sync;

internal static partial class SyncLog
{
    [LoggerMessage(4001, LogLevel.Information, "Adjacency {Role} {Peer}: {From} -> {To}")]
    public static partial void Transition(ILogger logger, AdjacencyRole role, NodeId peer, AdjacencyState from, AdjacencyState to);

    [LoggerMessage(4002, LogLevel.Warning, "Refused join of {Child}: {Reason}")]
    public static partial void JoinRefused(ILogger logger, NodeId child, string reason);

    [LoggerMessage(4003, LogLevel.Information, "Join attempt {Attempt} to parent #{Index} at {EndPoint} failed: {Reason}; next attempt in {Delay}")]
    public static partial void JoinFailed(ILogger logger, int attempt, int index, EndPoint endPoint, string reason, TimeSpan delay);

    [LoggerMessage(4004, LogLevel.Information, "Joined parent {Parent} at {EndPoint} with {Records} Cfg records")]
    public static partial void Joined(ILogger logger, NodeId parent, EndPoint endPoint, int records);

    [LoggerMessage(4005, LogLevel.Debug, "Dropped {Type} frame: {Reason} ({Detail}); {Count} dropped for this reason")]
    public static partial void Dropped(ILogger logger, string type, DropReason reason, string detail, long count);

    [LoggerMessage(4006, LogLevel.Warning, "Neighbour {Peer} ({Role}) is dead: silent for {Silence}")]
    public static partial void Dead(ILogger logger, NodeId peer, AdjacencyRole role, TimeSpan silence);

    [LoggerMessage(4007, LogLevel.Information, "Digest mismatch with {Peer}: asking for repair ({Known} records known)")]
    public static partial void Repair(ILogger logger, NodeId peer, int known);

    [LoggerMessage(4008, LogLevel.Warning, "Ignored record {Node} from {Peer}: {Reason}")]
    public static partial void RecordIgnored(ILogger logger, NodeId node, NodeId peer, string reason);

    [LoggerMessage(4050, LogLevel.Warning, "Refused record {Node} from {Peer}: {Url}: {Reason}")]
    public static partial void RecordRefused(ILogger logger, NodeId node, NodeId peer, string url, string reason);

    [LoggerMessage(4009, LogLevel.Warning, "Joined {Parent} with a bootstrap credential but it sent no join secret: a later re-join will be refused")]
    public static partial void NoSecrets(ILogger logger, NodeId parent);

    [LoggerMessage(4010, LogLevel.Information, "Cluster control from {Source}: {Frozen} (version {Version})")]
    public static partial void Control(ILogger logger, string source, string frozen, ulong version);

    [LoggerMessage(4011, LogLevel.Warning, "Child {Peer} is powered off (this node's power reading): its adjacency is down")]
    public static partial void PoweredOff(ILogger logger, NodeId peer);

    [LoggerMessage(4012, LogLevel.Error, "The sync engine's {Work} pass failed ({Count} so far); {Recovery}")]
    public static partial void WorkFailed(ILogger logger, Exception exception, string work, long count, string recovery);

    [LoggerMessage(4013, LogLevel.Warning, "Sync transport: {Message}")]
    public static partial void TransportFault(ILogger logger, string message);
}
