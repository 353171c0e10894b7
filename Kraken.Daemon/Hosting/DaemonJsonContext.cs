// The types the daemon hands to System.Text.Json itself, source-generated: the native (AOT) build has no reflection-based serializer.
using System.Text.Json.Serialization;

namespace Kraken.Daemon.Hosting;

/// <summary>
/// Serialization metadata, generated at build time, for what passes through <c>JsonSerializer</c> in the daemon and
/// the client verbs: quoted strings in request bodies, the string lists of problem-details extensions (<c>errors</c>),
/// and the query parameter types the OpenAPI document describes. Most JSON is written directly with
/// <c>Utf8JsonWriter</c> and needs none of this.
/// </summary>
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(bool?))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
internal sealed partial class DaemonJsonContext : JsonSerializerContext
{
    /// <summary>A string as a JSON string literal, escaped as <c>JsonSerializer</c> does by default.</summary>
    public static string Quote(string value) => System.Text.Json.JsonSerializer.Serialize(value, Default.String);
}
