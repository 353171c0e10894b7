// What went wrong where in a state file: node index and id, the URL or JSON path, and the reason.
using Kraken.Tree.State;

namespace Kraken.Tree.StateFiles;

/// <summary>One problem found in a state file. <see cref="NodeIndex"/> is -1 for file-level problems.</summary>
public sealed record StateFileError(int NodeIndex, NodeId? Node, string? Url, string Message)
{
    public override string ToString()
    {
        var where = NodeIndex < 0 ? "file" : Node is { } id ? $"nodes[{NodeIndex}] ({id})" : $"nodes[{NodeIndex}]";
        return Url is null ? $"{where}: {Message}" : $"{where} {Url}: {Message}";
    }
}

/// <summary>A state file that could not be loaded; <see cref="Errors"/> lists every problem found.</summary>
public sealed class StateFileException : Exception
{
    public StateFileException(IReadOnlyList<StateFileError> errors)
        : base(Summarize(errors))
    {
        Errors = errors;
    }

    public StateFileException()
        : this([])
    {
    }

    public StateFileException(string message)
        : base(message)
    {
        Errors = [new StateFileError(-1, null, null, message)];
    }

    public StateFileException(string message, Exception inner)
        : base(message, inner)
    {
        Errors = [new StateFileError(-1, null, null, message)];
    }

    public IReadOnlyList<StateFileError> Errors { get; }

    private static string Summarize(IReadOnlyList<StateFileError> errors) =>
        errors.Count == 0
            ? "The state file is invalid."
            : $"The state file has {errors.Count} error(s):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors);
}
