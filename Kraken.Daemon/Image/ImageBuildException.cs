// The one error type of "kraken image build": its message names what is missing or wrong.
namespace Kraken.Daemon.Image;

/// <summary>A reason the image cannot be built (a missing tool or package, a failed step), printed as is.</summary>
public sealed class ImageBuildException(string message) : Exception(message);
