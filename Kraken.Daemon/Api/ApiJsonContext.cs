// Serialization metadata of the API's bodies, generated at build time: the OpenAPI document derives their schemas
// from it (the native build has no reflection), and the tests read answers back through it.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kraken.Daemon.Api;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(StateNode))]
[JsonSerializable(typeof(StateNodeList))]
[JsonSerializable(typeof(StateFile))]
[JsonSerializable(typeof(NodesInput))]
[JsonSerializable(typeof(ImportInput))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, ScalarValue>))]
[JsonSerializable(typeof(ValueAnswer))]
[JsonSerializable(typeof(SetValueRequest))]
[JsonSerializable(typeof(BulkSetRequest))]
[JsonSerializable(typeof(BulkSetResult))]
[JsonSerializable(typeof(ImportResult))]
[JsonSerializable(typeof(FreezeState))]
[JsonSerializable(typeof(MutationGraphAnswer))]
[JsonSerializable(typeof(NodePlanAnswer))]
[JsonSerializable(typeof(TreeAnswer))]
[JsonSerializable(typeof(PowerActionRequest))]
[JsonSerializable(typeof(PowerOperationAnswer))]
[JsonSerializable(typeof(PowerOperationList))]
[JsonSerializable(typeof(PowerStatusAnswer))]
[JsonSerializable(typeof(LegacyNode))]
[JsonSerializable(typeof(LegacyNodeList))]
[JsonSerializable(typeof(LegacyGraph))]
[JsonSerializable(typeof(IReadOnlyList<LegacyEnumerable>))]
[JsonSerializable(typeof(LegacyWebSocketInfo))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
