// Where drivers get the secret behind a node's credential reference.
using System.Collections.Concurrent;

namespace Kraken.Modules.Power;

/// <summary>
/// Resolves a credential reference (<c>/Extensions/Power/Credential</c>, such as <c>bmc-default</c>) to its
/// secret. Secrets stay inside drivers: they are never logged, never written to Dsc and never returned by the
/// power module's API.
/// </summary>
public interface ICredentialProvider
{
    /// <summary>The secret for <paramref name="reference"/>, or false when this provider has none.</summary>
    bool TryGetSecret(string reference, out string secret);
}

/// <summary>Lookup helpers shared by the drivers.</summary>
public static class CredentialProviderExtensions
{
    /// <summary>
    /// The password for <paramref name="target"/>: its credential's secret, or empty when the target names no
    /// credential. Throws an <see cref="PowerErrorKind.Authentication"/> error naming the reference (not the secret)
    /// when the provider does not know it.
    /// </summary>
    public static string GetPassword(this ICredentialProvider provider, PowerTarget target)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(target);
        if (string.IsNullOrEmpty(target.Credential))
        {
            return string.Empty;
        }

        if (!CredentialNames.IsValid(target.Credential))
        {
            throw new PowerException(PowerErrorKind.Configuration, $"{target.Name}: credential reference '{target.Credential}' is not a valid name (letters, digits, '.', '_' and '-'; not starting with '.').");
        }

        return provider.TryGetSecret(target.Credential, out var secret)
            ? secret
            : throw new PowerException(PowerErrorKind.Authentication, $"{target.Name}: credential '{target.Credential}' is not known to the credential provider.");
    }
}

/// <summary>Credential reference names: safe as file names and environment variable suffixes.</summary>
public static class CredentialNames
{
    public static bool IsValid(string reference) =>
        !string.IsNullOrEmpty(reference) && reference.Length <= 128 && reference[0] != '.' &&
        reference.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}

/// <summary>
/// One file per credential in a directory (<c>/etc/kraken/credentials/bmc-default</c>), holding the secret;
/// a trailing newline is ignored. Files are read when asked for, so rotating a password needs no restart.
/// </summary>
public sealed class DirectoryCredentialProvider(string directory) : ICredentialProvider
{
    public string Directory { get; } = directory ?? throw new ArgumentNullException(nameof(directory));

    public bool TryGetSecret(string reference, out string secret)
    {
        secret = string.Empty;
        if (!CredentialNames.IsValid(reference))
        {
            return false;
        }

        var path = Path.Combine(Directory, reference);
        if (!File.Exists(path))
        {
            return false;
        }

        secret = File.ReadAllText(path).TrimEnd('\r', '\n');
        return true;
    }
}

/// <summary>
/// Credentials in environment variables: reference <c>bmc-default</c> is <c>KRAKEN_CREDENTIAL_BMC_DEFAULT</c>
/// (upper case, every character other than a letter or digit becomes '_').
/// </summary>
public sealed class EnvironmentCredentialProvider(string prefix = EnvironmentCredentialProvider.DefaultPrefix) : ICredentialProvider
{
    public const string DefaultPrefix = "KRAKEN_CREDENTIAL_";

    public string VariableName(string reference) =>
        prefix + string.Concat(reference.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_'));

    public bool TryGetSecret(string reference, out string secret)
    {
        secret = CredentialNames.IsValid(reference) ? Environment.GetEnvironmentVariable(VariableName(reference)) ?? string.Empty : string.Empty;
        return secret.Length > 0;
    }
}

/// <summary>Credentials held in memory (tests, the simulator, or secrets injected by a host).</summary>
public sealed class InMemoryCredentialProvider : ICredentialProvider
{
    private readonly ConcurrentDictionary<string, string> _secrets = new(StringComparer.Ordinal);

    public InMemoryCredentialProvider Set(string reference, string secret)
    {
        if (!CredentialNames.IsValid(reference))
        {
            throw new ArgumentException($"Credential reference '{reference}' is not a valid name (letters, digits, '.', '_' and '-'; not starting with '.').", nameof(reference));
        }

        _secrets[reference] = secret ?? throw new ArgumentNullException(nameof(secret));
        return this;
    }

    public bool TryGetSecret(string reference, out string secret) => _secrets.TryGetValue(reference, out secret!);
}

/// <summary>Asks each provider in turn; the first that knows the reference wins.</summary>
public sealed class CompositeCredentialProvider(params ICredentialProvider[] providers) : ICredentialProvider
{
    public bool TryGetSecret(string reference, out string secret)
    {
        foreach (var provider in providers)
        {
            if (provider.TryGetSecret(reference, out secret))
            {
                return true;
            }
        }

        secret = string.Empty;
        return false;
    }
}
