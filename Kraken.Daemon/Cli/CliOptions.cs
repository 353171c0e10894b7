// Option and argument builders for the verbs: values checked while parsing, each error naming the option.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Kraken.Net.Execution;

namespace Kraken.Daemon.Cli;

internal static class CliOptions
{
    /// <summary>What a duration on the command line may look like, for help and errors.</summary>
    public const string DurationForms = "seconds (30, 0.5) or a duration (250ms, 5s, 1m30s, 2h, 00:00:05)";

    /// <summary>An option taking one value (<c>--server URL</c>).</summary>
    public static Option<string> Text(string name, string valueName, string description, params string[] aliases) =>
        new(name, aliases) { Description = description, HelpName = valueName };

    /// <summary>An option naming a file or directory: empty paths and NUL characters are usage errors, not exceptions.</summary>
    public static Option<string> Path(string name, string valueName, string description, params string[] aliases)
    {
        var option = Text(name, valueName, description, aliases);
        option.Validators.Add(result => CheckPaths(result, name));
        return option;
    }

    /// <summary>An option that may be given many times (<c>--id ID --id ID</c>), one value each time.</summary>
    public static Option<string[]> Many(string name, string valueName, string description) =>
        new(name) { Description = description, HelpName = valueName, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };

    /// <summary>An option naming a file each time it is given (<c>--from FILE --from FILE</c>).</summary>
    public static Option<string[]> Paths(string name, string valueName, string description)
    {
        var option = Many(name, valueName, description);
        option.Validators.Add(result => CheckPaths(result, name));
        return option;
    }

    /// <summary>A flag (<c>--dsc</c>).</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>One of <paramref name="values"/>; anything else is a usage error listing them. Completes to them.</summary>
    public static Option<string> Choice(string name, string description, string[] values, params string[] aliases)
    {
        var option = new Option<string>(name, aliases) { Description = description, HelpName = string.Join('|', values) };
        option.CompletionSources.Add(values);
        option.Validators.Add(result =>
        {
            if (result.Tokens is [.., var last] && !values.Contains(last.Value, StringComparer.Ordinal))
            {
                result.AddError($"{name} '{last.Value}': use {Or(values)}");
            }
        });
        return option;
    }

    /// <summary>A positive duration: seconds as a bare number (as before), or <see cref="Durations"/>' forms.</summary>
    public static Option<TimeSpan?> Duration(string name, string description) =>
        new(name) { Description = description, HelpName = "DURATION", CustomParser = result => ParseDuration(result, name) };

    /// <summary>A whole number of at least <paramref name="minimum"/>.</summary>
    public static Option<long?> Number(string name, string valueName, string description, long minimum) =>
        new(name)
        {
            Description = description,
            HelpName = valueName,
            CustomParser = result =>
            {
                var text = result.Tokens is [.., var last] ? last.Value : string.Empty;
                if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= minimum)
                {
                    return n;
                }

                result.AddError($"{name} '{text}' is not a {(minimum > 0 ? "positive" : "non-negative")} number");
                return null;
            },
        };

    /// <summary>One argument word: <paramref name="name"/> is how help and errors call it (<c>ID</c>).</summary>
    public static Argument<string> Word(string name, string description, bool optional = false) =>
        new(name) { Description = description, Arity = optional ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne };

    /// <summary>An argument naming a file (<c>FILE</c>), checked like <see cref="Path(string, string, string, string[])"/>.</summary>
    public static Argument<string> PathWord(string name, string description)
    {
        var argument = Word(name, description);
        argument.Validators.Add(result => CheckPaths(result, name));
        return argument;
    }

    /// <summary>Argument words (<c>URL=VALUE...</c>), at least one unless <paramref name="optional"/>.</summary>
    public static Argument<string[]> Words(string name, string description, bool optional = false) =>
        new(name) { Description = description, Arity = optional ? ArgumentArity.ZeroOrMore : ArgumentArity.OneOrMore };

    /// <summary>A duration as the command line writes it: bare seconds, or a duration with units; positive.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
        {
            if (!double.IsFinite(seconds) || seconds is <= 0 or > 1e9)
            {
                return false;
            }

            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        return Durations.TryParse(text, out value) && value > TimeSpan.Zero;
    }

    /// <summary>"a, b or c".</summary>
    public static string Or(IReadOnlyList<string> values) =>
        values.Count < 2 ? string.Join(string.Empty, values) : $"{string.Join(", ", values.Take(values.Count - 1))} or {values[^1]}";

    private static void CheckPaths(SymbolResult result, string name)
    {
        foreach (var token in result.Tokens.Where(t => t.Value.Length == 0 || t.Value.Contains('\0', StringComparison.Ordinal)))
        {
            result.AddError($"{name} '{token.Value.Replace("\0", "\\0", StringComparison.Ordinal)}' is not a path");
        }
    }

    private static TimeSpan? ParseDuration(ArgumentResult result, string name)
    {
        var text = result.Tokens is [.., var last] ? last.Value : string.Empty;
        if (TryParseDuration(text, out var value))
        {
            return value;
        }

        result.AddError($"{name} '{text}' is not a positive duration; write {DurationForms}");
        return null;
    }
}
