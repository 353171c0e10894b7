// DIR/lab.json: everything a lab made, written before or as each thing is made, so "lab down" can undo a lab
// even after "lab up" crashed halfway.
using System.Text.Json;
using System.Text.Json.Serialization;
using Kraken.Daemon.Cli;

namespace Kraken.Daemon.Lab;

/// <summary>
/// A process the lab started (<c>Role</c> <c>root-daemon</c> or <c>bmc</c>), recorded before it starts (with
/// <c>Pid</c> 0) and again once it runs: stopped only if its PID still has the recorded <c>StartTime</c>, field 22
/// of <c>/proc/PID/stat</c> (clock ticks after boot), or if <c>PidFile</c> (written by the process itself at its
/// start) names a process whose command line holds <c>Marker</c>.
/// </summary>
internal sealed record LabProcess(string Role, string Name, int Pid, ulong StartTime, string Namespace, string Log, string PidFile, string Marker);

/// <summary>
/// A VM. Its qemu is started by its BMC, not by the lab, so it is found through <c>PidFiles</c> (the start script's
/// and qemu's); a PID counts only if its command line holds <c>Marker</c>, a path prefix only this VM's processes have.
/// </summary>
internal sealed record LabVm(string Name, IReadOnlyList<string> PidFiles, string Marker);

/// <summary>A link in a namespace (null: the host's). Links in a lab namespace vanish with it.</summary>
internal sealed record LabLink(string Name, string? Namespace);

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class LabRecord
{
    public const string CurrentFormat = "kraken-lab/1";

    public string Format { get; set; } = CurrentFormat;

    public string Name { get; set; } = "";

    public string Directory { get; set; } = "";

    public int Tier1 { get; set; }

    public int Leaves { get; set; }

    public bool Backup { get; set; }

    public string? Image { get; set; }

    public string? Accel { get; set; }

    /// <summary>When lab up started (UTC, ISO 8601).</summary>
    public string? Started { get; set; }

    /// <summary>True once lab up finished building (and, with --wait, waiting).</summary>
    public bool Complete { get; set; }

    /// <summary>True when lab up made the lab directory itself (then lab down removes it once empty).</summary>
    public bool CreatedDirectory { get; set; }

    public List<string> Namespaces { get; set; } = [];

    public List<LabLink> Links { get; set; } = [];

    /// <summary><c>/etc/netns/NS</c> directories (their resolv.conf keeps tools run in a namespace off the host's).</summary>
    public List<string> NetnsDirectories { get; set; } = [];

    public List<LabProcess> Processes { get; set; } = [];

    public List<LabVm> Vms { get; set; } = [];

    /// <summary>Files the lab made, in order.</summary>
    public List<string> Files { get; set; } = [];

    /// <summary>Directories whose whole content is the lab's, in order of creation.</summary>
    public List<string> Directories { get; set; } = [];

    public string ToJson() => JsonSerializer.Serialize(this, LabJsonContext.Default.LabRecord) + "\n";

    public static LabRecord FromJson(string json, string source)
    {
        LabRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(json, LabJsonContext.Default.LabRecord);
        }
        catch (JsonException e)
        {
            throw new CliException($"{source} is not a lab record: {e.Message}");
        }

        if (record is null || record.Format != CurrentFormat)
        {
            throw new CliException($"{source} is not a lab record (format '{record?.Format}', expected '{CurrentFormat}')");
        }

        return record;
    }

    /// <summary>Reads <paramref name="path"/>; null when there is none.</summary>
    public static LabRecord? Load(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        return FromJson(json, path);
    }

    /// <summary>Replaces <paramref name="path"/> atomically (a temporary file renamed over it), readable by root only.</summary>
    public void Save(string path)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            using var writer = new StreamWriter(stream);
            writer.Write(ToJson());
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>The lab record's JSON, generated at build time (the native build has no reflection-based serializer).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LabRecord))]
internal sealed partial class LabJsonContext : JsonSerializerContext;
