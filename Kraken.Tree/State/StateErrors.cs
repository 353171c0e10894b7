// Errors of the state model: each names the URL (and node) and says what would have been valid.
namespace Kraken.Tree.State;

/// <summary>A state URL that does not resolve, or a value that is not valid for its URL.</summary>
public class StateException : ArgumentException
{
    public StateException(string message)
        : base(message)
    {
    }

    public StateException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public StateException()
    {
    }

    /// <summary>The URL at fault, as given.</summary>
    public string? Url { get; init; }

    /// <summary>The node concerned, when known.</summary>
    public NodeId? Node { get; init; }
}

/// <summary>A state URL that names nothing; the message lists what is valid at that point.</summary>
public sealed class UnknownStateUrlException : StateException
{
    public UnknownStateUrlException(string url, string message)
        : base(message)
    {
        Url = url;
    }

    public UnknownStateUrlException()
    {
    }

    public UnknownStateUrlException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A value that does not fit its URL's type; the message says what is expected.</summary>
public sealed class InvalidStateValueException : StateException
{
    public InvalidStateValueException(string url, string message)
        : base(message)
    {
        Url = url;
    }

    public InvalidStateValueException()
    {
    }

    public InvalidStateValueException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The node is not in the store.</summary>
public sealed class NodeNotFoundException : StateException
{
    public NodeNotFoundException(NodeId node)
        : base($"Node {node} does not exist.")
    {
        Node = node;
    }

    public NodeNotFoundException()
    {
    }

    public NodeNotFoundException(string message)
        : base(message)
    {
    }

    public NodeNotFoundException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A node with that id is already in the store.</summary>
public sealed class NodeExistsException : StateException
{
    public NodeExistsException(NodeId node)
        : base($"Node {node} already exists.")
    {
        Node = node;
    }

    public NodeExistsException()
    {
    }

    public NodeExistsException(string message)
        : base(message)
    {
    }

    public NodeExistsException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>An update expected another version of the record than the stored one.</summary>
public sealed class VersionConflictException : StateException
{
    public VersionConflictException(NodeId node, ulong expected, ulong actual)
        : base($"Node {node} is at version {actual}, not {expected}.")
    {
        Node = node;
        Expected = expected;
        Actual = actual;
    }

    public VersionConflictException()
    {
    }

    public VersionConflictException(string message)
        : base(message)
    {
    }

    public VersionConflictException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ulong Expected { get; }

    public ulong Actual { get; }
}
