// The shapes of the power endpoints' bodies, for the OpenAPI document.
using System.Text.Json.Serialization;

namespace Kraken.Daemon.Api;

/// <summary><c>select</c>: The nodes; or <c>all</c>: every node with power settings. <c>setCfg</c>: Set Cfg /PhysState to the action's result first (default: at the root, except for soft). <c>callTimeout</c>: Seconds one BMC call may take (0.001..3600). <c>retries</c>: Retries of a failed call (0..100).</summary>
public sealed record PowerActionRequest(SelectionFilter? Select = null, bool? All = null, bool? SetCfg = null, double? CallTimeout = null, int? Retries = null);

/// <summary>A bulk power operation; <c>results</c> only on <c>GET .../operations/{id}</c>.</summary>
public sealed record PowerOperationAnswer(
    string Id,
    string Action,
    PowerOperationStatus State,
    bool SetCfg,
    int Requested,
    int Done,
    int Pending,
    int Ok,
    int Failed,
    int TimedOut,
    DateTimeOffset Started,
    DateTimeOffset? Finished,
    double ElapsedSeconds,
    string Location,
    IReadOnlyList<FailureReasonCount> FailureReasons,
    IReadOnlyList<PowerNodeResult>? Results = null);

public sealed record PowerOperationList(IReadOnlyList<PowerOperationAnswer> Operations);

/// <summary>A live power status of a selection (<c>GET /power/status</c>); each result carries the node's Dsc /PhysState.</summary>
public sealed record PowerStatusAnswer(int Requested, int Ok, int Failed, int TimedOut, double ElapsedSeconds, IReadOnlyList<FailureReasonCount> FailureReasons, IReadOnlyList<PowerNodeResult> Results);

public sealed record FailureReasonCount(string Reason, int Count);

/// <summary>One node's result; a pending one has only <c>node</c>, <c>name</c> and <c>outcome</c>. <c>dsc</c>: The node's Dsc /PhysState (status reads only).</summary>
public sealed record PowerNodeResult(
    string Node,
    string? Name,
    PowerOutcome Outcome,
    PowerReading? Status = null,
    string? Dsc = null,
    string? Reason = null,
    string? Error = null,
    int? Calls = null,
    double? DurationSeconds = null);

[JsonConverter(typeof(JsonStringEnumConverter<PowerOperationStatus>))]
public enum PowerOperationStatus
{
    [JsonStringEnumMemberName("running")]
    Running,

    [JsonStringEnumMemberName("done")]
    Done,

    [JsonStringEnumMemberName("cancelled")]
    Cancelled,
}

[JsonConverter(typeof(JsonStringEnumConverter<PowerOutcome>))]
public enum PowerOutcome
{
    [JsonStringEnumMemberName("ok")]
    Ok,

    [JsonStringEnumMemberName("failed")]
    Failed,

    [JsonStringEnumMemberName("timedOut")]
    TimedOut,

    [JsonStringEnumMemberName("pending")]
    Pending,
}

[JsonConverter(typeof(JsonStringEnumConverter<PowerReading>))]
public enum PowerReading
{
    [JsonStringEnumMemberName("on")]
    On,

    [JsonStringEnumMemberName("off")]
    Off,

    [JsonStringEnumMemberName("unknown")]
    Unknown,
}
