// One parsed invocation as the verbs read it: the verb's words and arguments in order, and its options by name.
using System.CommandLine;
using System.CommandLine.Parsing;

namespace Kraken.Daemon.Cli;

/// <summary>
/// A view of a <see cref="ParseResult"/> for the verbs: <see cref="Positional"/> is the verb path followed by its
/// arguments (<c>["node", "set", ID, "URL=VALUE", ...]</c>), options are looked up by their name (<c>--filter</c>) and
/// give the words as written. System.CommandLine has already checked every option, its value and the arity.
/// </summary>
internal sealed class Arguments
{
    private readonly ParseResult _parse;
    private readonly List<string> _positional = [];

    private Arguments(ParseResult parse)
    {
        _parse = parse;
        var path = new List<string>();
        for (var c = parse.CommandResult; c.Parent is CommandResult parent; c = parent)
        {
            path.Insert(0, c.Command.Name);
        }

        _positional.AddRange(path);
        foreach (var argument in parse.CommandResult.Command.Arguments)
        {
            if (parse.GetResult(argument) is { } result)
            {
                _positional.AddRange(result.Tokens.Select(t => t.Value));
            }
        }
    }

    public IReadOnlyList<string> Positional => _positional;

    public static Arguments From(ParseResult parse) => new(parse ?? throw new ArgumentNullException(nameof(parse)));

    /// <summary>The last value given for <paramref name="name"/>, or null.</summary>
    public string? Option(string name) => Options(name) is [.., var last] ? last : null;

    /// <summary>Every value given for <paramref name="name"/>, in order.</summary>
    public IReadOnlyList<string> Options(string name) =>
        Given(name) is { } result ? [.. result.Tokens.Select(t => t.Value)] : [];

    /// <summary>True when the flag <paramref name="name"/> is given (and not <c>--name=false</c>).</summary>
    public bool Flag(string name) => Given(name) is not null && _parse.GetValue<bool>(name);

    /// <summary>The value of a duration option (already checked: positive), or null.</summary>
    public TimeSpan? Duration(string name) => Given(name) is not null ? _parse.GetValue<TimeSpan?>(name) : null;

    private OptionResult? Given(string name) => _parse.GetResult(name) is OptionResult { Implicit: false } result ? result : null;
}
