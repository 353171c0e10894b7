// The daemon's secrets on disk: random tokens and join secrets, files only their owner can read.
using System.Buffers.Text;
using System.Security.Cryptography;

namespace Kraken.Daemon.Hosting;

internal static class SecretFiles
{
    /// <summary>Read and write for the owner only (0600): tokens, join secrets, credentials.</summary>
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>A directory only its owner can list and enter (0700).</summary>
    public const UnixFileMode PrivateDirectory = Private | UnixFileMode.UserExecute;

    /// <summary><paramref name="bytes"/> random bytes (256 bits by default) as base64url: a token or join secret nobody types.</summary>
    public static string NewSecret(int bytes = 32) => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>Creates <paramref name="path"/> with <paramref name="content"/> (UTF-8) and <paramref name="mode"/>; fails if it exists.</summary>
    public static void CreateNew(string path, string content, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        using var writer = new StreamWriter(path, options);
        writer.Write(content);
    }
}
