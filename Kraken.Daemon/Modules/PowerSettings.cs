// Section Modules:Power: bound strictly (unknown keys are errors), validated with the offending key named.
using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Kraken.Daemon.Hosting;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Modules.Power.Qemu;
using Kraken.Modules.Power.Redfish;
using Microsoft.Extensions.Configuration;

namespace Kraken.Daemon.Modules;

/// <summary>Where the drivers find the secrets behind credential references.</summary>
public sealed class PowerCredentialSettings
{
    /// <summary>A directory with one file per credential (<c>bmc-default</c> holds its secret); unset: none.</summary>
    public string? Directory { get; set; }

    /// <summary>Also look in environment variables <c>{EnvironmentPrefix}REFERENCE</c>.</summary>
    public bool Environment { get; set; } = true;

    public string EnvironmentPrefix { get; set; } = EnvironmentCredentialProvider.DefaultPrefix;
}

/// <summary>The simulated driver's settings in the daemon (demonstrations and tests; no hardware).</summary>
public sealed class SimPowerSettings
{
    public TimeSpan OnDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan OffDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan StatusDelay { get; set; }

    /// <summary>Each delay is drawn uniformly from [delay, delay + Jitter].</summary>
    public TimeSpan Jitter { get; set; }

    public double FailureRate { get; set; }

    public double HangRate { get; set; }

    public PowerStatus InitialState { get; set; } = PowerStatus.Off;

    public int Seed { get; set; } = 1;

    public SimPowerOptions ToOptions()
    {
        SimDelay Delay(TimeSpan d) => Jitter > TimeSpan.Zero ? SimDelay.Uniform(d, d + Jitter) : SimDelay.Fixed(d);
        return new SimPowerOptions
        {
            OnDelay = Delay(OnDelay),
            OffDelay = Delay(OffDelay),
            StatusDelay = StatusDelay > TimeSpan.Zero || Jitter > TimeSpan.Zero ? Delay(StatusDelay) : SimDelay.Zero,
            FailureRate = FailureRate,
            HangRate = HangRate,
            InitialState = InitialState,
            Seed = Seed,
        };
    }
}

/// <summary>Section <c>Modules:Power</c>, as bound. <see cref="Load"/> validates it and builds what the module needs.</summary>
public sealed partial class PowerSettings
{
    public const string Ipmi = "ipmi";
    public const string Redfish = "redfish";
    public const string Qemu = "qemu";
    public const string Sim = "sim";

    private static readonly string[] s_drivers = [Ipmi, Redfish, Qemu, Sim];

    public bool Enabled { get; set; } = true;

    /// <summary>The drivers to load, by name; default ipmi, redfish and qemu.</summary>
    public List<string> Drivers { get; set; } = [];

    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan StepTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan HangStepTimeout { get; set; } = TimeSpan.FromSeconds(120);

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    public int Retries { get; set; } = 2;

    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    public int DefaultDriverConcurrency { get; set; } = 64;

    public Dictionary<string, int> DriverConcurrency { get; set; } = new(StringComparer.Ordinal);

    public int BmcConcurrency { get; set; } = 1;

    /// <summary>Finished bulk operations kept for the API (the oldest are forgotten first).</summary>
    public int OperationHistory { get; set; } = 100;

    /// <summary>Bulk operations that may run at once; more are refused (429) until one ends.</summary>
    public int MaxRunningOperations { get; set; } = 16;

    public PowerCredentialSettings Credentials { get; set; } = new();

    /// <summary>The drivers' own settings: sub-sections Ipmi, Redfish, Qemu, Sim (read in <see cref="Load"/>).</summary>
    internal IpmiOptions IpmiOptions { get; private set; } = new();

    internal RedfishOptions RedfishOptions { get; private set; } = new();

    internal QemuOptions QemuOptions { get; private set; } = new();

    internal SimPowerOptions SimOptions { get; private set; } = new();

    /// <summary>The drivers to create, in order, validated.</summary>
    internal IReadOnlyList<string> DriverNames { get; private set; } = [];

    /// <summary>
    /// Reads and validates <paramref name="section"/> (<c>Modules:Power</c>); throws <see cref="DaemonConfigException"/>
    /// with the full key of the first bad value. <paramref name="extraDrivers"/> are names of drivers registered by the host.
    /// </summary>
    public static PowerSettings Load(IConfigurationSection section, IEnumerable<string> extraDrivers)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(extraDrivers);
        var path = section.Path;
        CheckKeys(section, [
            nameof(Enabled), nameof(Drivers), nameof(CallTimeout), nameof(StepTimeout), nameof(HangStepTimeout), nameof(PollInterval),
            nameof(Retries), nameof(RetryDelay), nameof(DefaultDriverConcurrency), nameof(DriverConcurrency), nameof(BmcConcurrency),
            nameof(OperationHistory), nameof(MaxRunningOperations), nameof(Credentials), "Ipmi", "Redfish", "Qemu", "Sim",
        ]);
        var settings = new PowerSettings();
        BindOrThrow(section, c => c.Bind(settings, DaemonOptions.Strict), "Ipmi", "Redfish", "Qemu", "Sim");

        var names = settings.Drivers.Count > 0 ? settings.Drivers : [Ipmi, Redfish, Qemu];
        var seen = new HashSet<string>(extraDrivers, StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i]?.Trim().ToLowerInvariant() ?? string.Empty;
            if (!s_drivers.Contains(name))
            {
                throw new DaemonConfigException($"{path}:Drivers:{i}", $"'{names[i]}' is not a driver; use {string.Join(", ", s_drivers)}");
            }

            if (!seen.Add(name))
            {
                throw new DaemonConfigException($"{path}:Drivers:{i}", $"driver '{name}' is listed twice");
            }
        }

        settings.DriverNames = [.. names.Select(n => n.Trim().ToLowerInvariant())];
        Check(settings.OperationHistory is >= 1 and <= 100_000, $"{path}:OperationHistory", settings.OperationHistory, "1..100000");
        Check(settings.MaxRunningOperations is >= 1 and <= 10_000, $"{path}:MaxRunningOperations", settings.MaxRunningOperations, "1..10000");
        var credentials = settings.Credentials;
        if (credentials.Directory is { } dir && !System.IO.Directory.Exists(dir))
        {
            throw new DaemonConfigException($"{path}:Credentials:Directory", $"'{dir}' is not a directory");
        }

        if (credentials.Directory is { } secrets)
        {
            // Every file a credential reference can name; checked at start, so a readable one stops the daemon at once.
            try
            {
                foreach (var file in System.IO.Directory.EnumerateFiles(secrets).Where(f => CredentialNames.IsValid(Path.GetFileName(f))).Order(StringComparer.Ordinal))
                {
                    DaemonOptions.RequirePrivate(file, $"{path}:Credentials:Directory");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new DaemonConfigException($"{path}:Credentials:Directory", $"cannot read '{secrets}': {ex.Message}");
            }
        }

        if (credentials.Environment && (string.IsNullOrWhiteSpace(credentials.EnvironmentPrefix) || !credentials.EnvironmentPrefix.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')))
        {
            throw new DaemonConfigException($"{path}:Credentials:EnvironmentPrefix", $"'{credentials.EnvironmentPrefix}' is not a variable name prefix (letters, digits, '_')");
        }

        // Each Bind call names its concrete type, so the configuration binding generator writes its code.
        settings.IpmiOptions = Driver(section, "Ipmi", new IpmiOptions(), static (c, o) => c.Bind(o, DaemonOptions.Strict), o =>
        {
            if (o.CipherSuite is not (3 or 17))
            {
                throw new ArgumentException($"IpmiOptions.CipherSuite must be 3 (HMAC-SHA1) or 17 (HMAC-SHA256) (was {o.CipherSuite}).");
            }

            o.Validate();
        });
        settings.RedfishOptions = Driver(section, "Redfish", new RedfishOptions(), static (c, o) => c.Bind(o, DaemonOptions.Strict), o => o.Validate());
        settings.QemuOptions = Driver(section, "Qemu", new QemuOptions(), static (c, o) => c.Bind(o, DaemonOptions.Strict), o =>
        {
            if (string.IsNullOrWhiteSpace(o.CommandTemplate))
            {
                throw new ArgumentException("QemuOptions.CommandTemplate must not be empty.");
            }

            if (o.PollInterval <= TimeSpan.Zero || o.MaxLineBytes < 1024)
            {
                throw new ArgumentException($"QemuOptions.{(o.PollInterval <= TimeSpan.Zero ? nameof(o.PollInterval) : nameof(o.MaxLineBytes))} must be positive (MaxLineBytes at least 1024).");
            }
        });
        var sim = new SimPowerSettings();
        var simSection = section.GetSection("Sim");
        CheckKeys(simSection, [.. typeof(SimPowerSettings).GetProperties().Select(p => p.Name)]);
        BindOrThrow(simSection, c => c.Bind(sim, DaemonOptions.Strict));
        settings.SimOptions = Validated(simSection.Path, sim.ToOptions(), o => o.Validate());
        return settings;
    }

    /// <summary>The module's options for <paramref name="drivers"/> (the names of the drivers actually created).</summary>
    public PowerOptions ToPowerOptions(string path, IEnumerable<string> drivers)
    {
        var options = new PowerOptions
        {
            CallTimeout = CallTimeout,
            StepTimeout = StepTimeout,
            HangStepTimeout = HangStepTimeout,
            PollInterval = PollInterval,
            Retries = Retries,
            RetryDelay = RetryDelay,
            DefaultDriverConcurrency = DefaultDriverConcurrency,
            BmcConcurrency = BmcConcurrency,
        };
        foreach (var (driver, limit) in DriverConcurrency)
        {
            options.DriverConcurrency[driver] = limit;
        }

        return Validated(path, options, o => o.Validate(drivers));
    }

    /// <summary>The credential provider the settings describe: the directory first, then the environment.</summary>
    public ICredentialProvider CreateCredentialProvider()
    {
        var providers = new List<ICredentialProvider>();
        if (Credentials.Directory is { } dir)
        {
            providers.Add(new DirectoryCredentialProvider(dir));
        }

        if (Credentials.Environment)
        {
            providers.Add(new EnvironmentCredentialProvider(Credentials.EnvironmentPrefix));
        }

        return new CompositeCredentialProvider([.. providers]);
    }

    private static T Driver<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(
        IConfigurationSection parent, string name, T options, Action<IConfiguration, T> bind, Action<T> validate)
        where T : class
    {
        var section = parent.GetSection(name);
        CheckKeys(section, [.. typeof(T).GetProperties().Where(p => p.CanWrite && p.Name != "Name").Select(p => p.Name)]);
        BindOrThrow(section, c => bind(c, options));
        return Validated(section.Path, options, validate);
    }

    /// <summary>Runs a library's validation and turns "XOptions.Key must ..." into the configuration key.</summary>
    private static T Validated<T>(string path, T options, Action<T> validate)
    {
        try
        {
            validate(options);
            return options;
        }
        catch (ArgumentException ex)
        {
            var m = OptionName().Match(ex.Message);
            var key = m.Success ? $"{path}:{m.Groups["name"].Value}{(m.Groups["index"].Success ? ":" + m.Groups["index"].Value : string.Empty)}" : path;
            throw new DaemonConfigException(key, ex.Message);
        }
    }

    private static void CheckKeys(IConfigurationSection section, IReadOnlyCollection<string> known)
    {
        foreach (var child in section.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new DaemonConfigException(child.Path, $"unknown key; expected one of {string.Join(", ", known.Order(StringComparer.Ordinal))}");
            }
        }
    }

    /// <summary>Runs <paramref name="bind"/> on <paramref name="section"/> (without the <paramref name="skip"/> sub-sections), naming the bad key on failure.</summary>
    private static void BindOrThrow(IConfigurationSection section, Action<IConfiguration> bind, params string[] skip)
    {
        try
        {
            if (skip.Length == 0)
            {
                bind(section);
                return;
            }

            // Bind the scalar keys and the known sub-sections; driver sub-sections are read separately.
            var filtered = new ConfigurationBuilder().AddInMemoryCollection(
                section.AsEnumerable(makePathsRelative: true)
                    .Where(kv => !skip.Any(s => kv.Key.Equals(s, StringComparison.OrdinalIgnoreCase) || kv.Key.StartsWith(s + ":", StringComparison.OrdinalIgnoreCase))))
                .Build();
            bind(filtered);
        }
        catch (InvalidOperationException ex)
        {
            // "Failed to convert configuration value at 'CallTimeout' to type 'System.TimeSpan'."
            var at = ConfigPath().Match(ex.Message);
            var key = at.Success ? (at.Groups[1].Value.StartsWith(section.Path, StringComparison.OrdinalIgnoreCase) ? at.Groups[1].Value : $"{section.Path}:{at.Groups[1].Value}") : section.Path;
            throw new DaemonConfigException(key, ex.InnerException is { } inner ? $"{ex.Message} {inner.Message}" : ex.Message);
        }
    }

    private static void Check(bool ok, string key, object value, string expected)
    {
        if (!ok)
        {
            throw new DaemonConfigException(key, $"{value} is outside {expected}");
        }
    }

    [GeneratedRegex(@"^\w+Options\.(?<name>\w+)(\[(?<index>[^\]]+)\])?")]
    private static partial Regex OptionName();

    [GeneratedRegex(@"at '([^']+)'")]
    private static partial Regex ConfigPath();
}
