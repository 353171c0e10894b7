// Section Modules:Join: the join step every daemon with children runs (docs/reconcile.md, "The module set").
using System.Globalization;
using Kraken.Daemon.Hosting;
using Kraken.Modules.Join;
using Microsoft.Extensions.Configuration;

namespace Kraken.Daemon.Modules;

/// <summary>Reads <c>Modules:Join</c>: only <c>Timeout</c>; an unknown key stops start-up naming it.</summary>
public static class JoinSettings
{
    public const string Section = "Modules:Join";

    public static JoinModuleOptions Read(IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var options = new JoinModuleOptions();
        foreach (var child in section.GetChildren())
        {
            if (!child.Key.Equals("Timeout", StringComparison.OrdinalIgnoreCase))
            {
                throw new DaemonConfigException($"{Section}:{child.Key}", "unknown key (known: Timeout)");
            }
        }

        if (section["Timeout"] is { } text)
        {
            options = TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var timeout) && timeout > TimeSpan.Zero
                ? options with { Timeout = timeout }
                : throw new DaemonConfigException($"{Section}:Timeout", $"'{text}' is not a positive time span such as 00:05:00");
        }

        return options;
    }
}
