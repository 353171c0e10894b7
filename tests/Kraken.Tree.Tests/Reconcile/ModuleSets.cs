// The module sets the reconcile tests run: the realistic power/PXE/RunState set and the original's vbox set.
using Kraken.Tree.Reconcile;

namespace Kraken.Tree.Tests.Reconcile;

internal static class ModuleSets
{
    public const string Pxe = "/Extensions/Pxe/State";
    public const string Phys = "/PhysState";
    public const string Run = "/RunState";

    private static readonly UrlValue s_hang = new(Phys, "PHYS_HANG");

    /// <summary>
    /// Power: PHYS_UNKNOWN->POWER_OFF (a query), POWER_OFF&lt;->POWER_ON, PHYS_HANG->POWER_OFF, failing to PHYS_HANG.
    /// PXE: NONE->WAIT->INIT->COMP requiring POWER_ON (WAIT->INIT also sets RunState INIT, as a DHCP ACK does).
    /// RunState: INIT->SYNC requiring PXE COMP.
    /// </summary>
    public static ModuleDeclaration[] Realistic() =>
    [
        new("power")
        {
            Discoverables = [new(Phys, ["POWER_OFF", "POWER_ON"])],
            Mutations =
            [
                new("UKtoOFF") { Mutates = [new(Phys, "PHYS_UNKNOWN", "POWER_OFF")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(10), FailTo = s_hang },
                new("OFFtoON") { Mutates = [new(Phys, "POWER_OFF", "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(10), FailTo = s_hang },
                new("ONtoOFF") { Mutates = [new(Phys, "POWER_ON", "POWER_OFF")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(10), FailTo = s_hang },
                new("HANGtoOFF") { Mutates = [new(Phys, "PHYS_HANG", "POWER_OFF")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(20), FailTo = s_hang },
            ],
        },
        new("pxe")
        {
            Discoverables = [new(Pxe, ["WAIT", "INIT", "COMP"]), new(Run, ["INIT"])],
            Mutations =
            [
                new("NONEtoWAIT") { Mutates = [new(Pxe, "NONE", "WAIT")], Requires = [new(Phys, "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(10), FailTo = s_hang },
                new("WAITtoINIT") { Mutates = [new(Pxe, "WAIT", "INIT"), new(Run, "UNKNOWN", "INIT")], Requires = [new(Phys, "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(90), FailTo = s_hang },
                new("INITtoCOMP") { Mutates = [new(Pxe, "INIT", "COMP")], Requires = [new(Phys, "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(60), FailTo = s_hang },
            ],
        },
        new("runstate")
        {
            Discoverables = [new(Run, ["SYNC", "ERROR"])],
            Mutations =
            [
                new("INITtoSYNC") { Mutates = [new(Run, "INIT", "SYNC")], Requires = [new(Pxe, "COMP"), new(Phys, "POWER_ON")], Context = MutationContext.Child, Timeout = TimeSpan.FromSeconds(90), FailTo = s_hang },
            ],
        },
    ];

    /// <summary>The original's examples/vbox set (KRAKEN-REFERENCE.md 2.1-2.8, 4.6, 6.1, 6.3), with the original's URL forms.</summary>
    public static ModuleDeclaration[] Vbox() =>
    [
        new("vboxmanage")
        {
            Discoverables = [new("PhysState", ["POWER_OFF", "POWER_ON", "PHYS_UNKNOWN"])],
            Mutations =
            [
                Power("UKtoOFF", "PHYS_UNKNOWN", "POWER_OFF", 10),
                Power("OFFtoON", "POWER_OFF", "POWER_ON", 10),
                Power("ONtoOFF", "POWER_ON", "POWER_OFF", 10),
                Power("HANGtoOFF", "PHYS_HANG", "POWER_OFF", 20),
            ],
        },
        new("pxe")
        {
            Discoverables = [new("type.googleapis.com/PXE.Client/State", ["WAIT", "INIT"]), new(Run, ["INIT"])],
            Mutations =
            [
                new("NONEtoWAIT")
                {
                    Mutates = [new("type.googleapis.com/PXE.Client/State", "NONE", "WAIT")],
                    Requires = [new(Phys, "POWER_ON")],
                    Context = MutationContext.Child,
                    Timeout = TimeSpan.FromSeconds(10),
                    FailTo = s_hang,
                },
                new("WAITtoINIT")
                {
                    Mutates = [new("type.googleapis.com/PXE.Client/State", "WAIT", "INIT"), new(Run, "UNKNOWN", "INIT")],
                    Requires = [new(Phys, "POWER_ON")],
                    Context = MutationContext.Child,
                    Timeout = TimeSpan.FromSeconds(90),
                    FailTo = s_hang,
                },
            ],
        },
        new("sse")
        {
            Discoverables = [new(Run, ["INIT", "SYNC", "ERROR"]), new(Phys, ["PHYS_HANG"])],
            Mutations =
            [
                new("INITtoSYNC")
                {
                    Mutates = [new(Run, "INIT", "SYNC")],
                    Requires = [new(Phys, "POWER_ON")],
                    Context = MutationContext.Child,
                    Timeout = TimeSpan.FromSeconds(90),
                    FailTo = s_hang,
                },
            ],
        },
    ];

    private static MutationDeclaration Power(string id, string from, string to, int seconds) => new(id)
    {
        Mutates = [new(Phys, from, to)],
        Requires = [new("/Platform", "vbox")],
        Context = MutationContext.Child,
        Timeout = TimeSpan.FromSeconds(seconds),
        FailTo = s_hang,
    };
}
