// Settings of the qemu driver.
namespace Kraken.Modules.Power.Qemu;

/// <remarks>Settable rather than init-only: the daemon fills it with the source-generated configuration binder, which sets only settable properties.</remarks>
public sealed record QemuOptions
{
    /// <summary>
    /// The default command that powers a VM on. Placeholders: <c>{qmp}</c> (the node's QMP socket path,
    /// <c>/Extensions/Power/Address</c>), <c>{system}</c> (<c>/Extensions/Power/System</c>, else the node name),
    /// <c>{node}</c> (node id), <c>{nodename}</c>. Arguments split on spaces; double quotes group.
    /// The default starts a VM with no disk and no devices: enough to be switched on and off.
    /// </summary>
    public const string DefaultTemplate =
        "qemu-system-x86_64 -accel tcg -display none -nodefaults -machine none -name {system} -qmp unix:{qmp},server=on,wait=off -daemonize";

    /// <summary>The driver name nodes select (<c>/Extensions/Power/Driver</c>).</summary>
    public string Name { get; set; } = "qemu";

    public string CommandTemplate { get; set; } = DefaultTemplate;

    /// <summary>Per-node templates by node name (<c>/Nodename</c>), for nodes that need their own.</summary>
    public IReadOnlyDictionary<string, string> Templates { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>How often the QMP socket is tried while a VM starts or stops.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>QMP lines longer than this are refused (real replies are a few hundred bytes).</summary>
    public int MaxLineBytes { get; set; } = 64 * 1024;
}
