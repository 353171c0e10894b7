// A module set that cannot be registered: every problem found, each naming module, mutation, URL and value.
namespace Kraken.Tree.Reconcile;

/// <summary>Thrown at start-up when module declarations are invalid; nothing is registered.</summary>
public sealed class ModuleRegistrationException : Exception
{
    public ModuleRegistrationException(IReadOnlyList<string> errors)
        : base("Invalid module declarations:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
    {
        Errors = errors;
    }

    public ModuleRegistrationException()
    {
        Errors = [];
    }

    public ModuleRegistrationException(string message)
        : base(message)
    {
        Errors = [message];
    }

    public ModuleRegistrationException(string message, Exception inner)
        : base(message, inner)
    {
        Errors = [message];
    }

    /// <summary>One line per problem.</summary>
    public IReadOnlyList<string> Errors { get; }
}
