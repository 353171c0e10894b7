// Message types and drop reasons of the tree sync protocol (docs/protocol.md, "Message types").
namespace Kraken.Net.Sync;

/// <summary>The type byte of a sync frame (header offset 2).</summary>
public enum MessageType : byte
{
    /// <summary>0x01: liveness and version digest (UDP).</summary>
    Hello = 1,

    /// <summary>0x02: changed records, reliable by acknowledgement and retransmission.</summary>
    Delta = 2,

    /// <summary>0x03: acknowledges deltas.</summary>
    Ack = 3,

    /// <summary>0x04: asks for the records whose versions differ.</summary>
    RepairRequest = 4,

    /// <summary>0x05: parent's nonce, first frame of a join stream.</summary>
    JoinChallenge = 5,

    /// <summary>0x06: child's identity and proof of the join secret.</summary>
    JoinRequest = 6,

    /// <summary>0x07: join accepted, with the child's records.</summary>
    JoinAccept = 7,

    /// <summary>0x08: join refused.</summary>
    JoinReject = 8,

    /// <summary>0x09: compatibility-profile hello carrying whole records.</summary>
    FullHello = 9,
}

/// <summary>Why a received frame was dropped.</summary>
public enum DropReason : byte
{
    /// <summary>The MAC did not verify under the sender's key.</summary>
    BadMac,

    /// <summary>The sequence number was already seen or fell behind the replay window.</summary>
    Replay,

    /// <summary>No adjacency with the sender (or the sender may not send this type).</summary>
    UnknownSender,

    /// <summary>Bad magic, version, type, length, or a payload that does not parse.</summary>
    Malformed,

    /// <summary>The declared length exceeds the configured maximum.</summary>
    Oversize,
}

public static class SyncProtocolNames
{
    private static readonly string[] s_types = ["none", "hello", "delta", "ack", "repair", "join_challenge", "join_request", "join_accept", "join_reject", "full_hello"];
    private static readonly string[] s_reasons = ["bad_mac", "replay", "unknown_sender", "malformed", "oversize"];

    /// <summary>The highest message type number, for arrays indexed by type.</summary>
    public const int MaxType = (int)MessageType.FullHello;

    /// <summary>Number of drop reasons, for arrays indexed by reason.</summary>
    public const int ReasonCount = (int)DropReason.Oversize + 1;

    public static string Name(MessageType type) => (uint)type < (uint)s_types.Length ? s_types[(int)type] : "unknown";

    public static string Name(DropReason reason) => s_reasons[(int)reason];

    public static bool IsDefined(byte type) => type is >= 1 and <= MaxType;
}
