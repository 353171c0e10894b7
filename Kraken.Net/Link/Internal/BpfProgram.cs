// A classic BPF program for a RawLinkFilter, attached to AF_PACKET sockets with SO_ATTACH_FILTER.
using System.Runtime.InteropServices;

namespace Kraken.Net.Link.Internal;

[StructLayout(LayoutKind.Sequential)]
internal readonly record struct BpfInstruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K);

internal static class BpfProgram
{
    // Opcodes (linux/filter.h): class | size | mode.
    private const ushort LdH = 0x28;        // BPF_LD | BPF_H | BPF_ABS
    private const ushort LdB = 0x30;        // BPF_LD | BPF_B | BPF_ABS
    private const ushort LdxMsh = 0xb1;     // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (pkt[k] & 0xf)
    private const ushort LdHInd = 0x48;     // BPF_LD | BPF_H | BPF_IND: A = pkt[X + k]
    private const ushort JeqK = 0x15;       // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort JsetK = 0x45;      // BPF_JMP | BPF_JSET | BPF_K
    private const ushort RetK = 0x06;       // BPF_RET | BPF_K
    private const uint Accept = 0x40000;    // bytes of the frame to keep
    private const byte Drop = byte.MaxValue; // placeholder, patched to the final "ret #0"

    public static BpfInstruction[] Compile(RawLinkFilter filter)
    {
        if (filter.IsEmpty)
        {
            return [new(RetK, 0, 0, Accept)];
        }

        // Each block jumps to "accept" on a match and falls through to the next block otherwise ("next").
        var blocks = new List<List<(ushort Code, string True, string False, uint K)>>();
        if (filter.UdpPort is { } port)
        {
            blocks.Add(
            [
                (LdH, "", "", 12),
                (JeqK, "+", "next", 0x0800),
                (LdB, "", "", 23),
                (JeqK, "+", "next", 17),
                (LdH, "", "", 20),
                (JsetK, "next", "+", 0x1fff),   // not a first fragment: no UDP header here
                (LdxMsh, "", "", 14),
                (LdHInd, "", "", 16),           // 14 (Ethernet) + IHL + 2 = destination port
                (JeqK, "accept", "next", port),
            ]);
        }

        if (filter.EtherType is { } type)
        {
            blocks.Add([(LdH, "", "", 12), (JeqK, "accept", "next", type)]);
        }

        if (filter.Icmpv6)
        {
            blocks.Add([(LdH, "", "", 12), (JeqK, "+", "next", 0x86dd), (LdB, "", "", 20), (JeqK, "accept", "next", 58)]);
        }

        var total = blocks.Sum(b => b.Count);
        var acceptAt = total;       // ret #Accept
        var dropAt = total + 1;     // ret #0
        var program = new List<BpfInstruction>(total + 2);
        var start = 0;
        foreach (var block in blocks)
        {
            var next = start + block.Count;
            foreach (var (code, t, f, k) in block)
            {
                var at = program.Count;
                program.Add(new BpfInstruction(code, Offset(at, t, next, acceptAt, dropAt), Offset(at, f, next, acceptAt, dropAt), k));
            }

            start = next;
        }

        program.Add(new BpfInstruction(RetK, 0, 0, Accept));
        program.Add(new BpfInstruction(RetK, 0, 0, 0));
        return [.. program];
    }

    private static byte Offset(int at, string label, int next, int accept, int drop)
    {
        var target = label switch
        {
            "" or "+" => at + 1,
            "next" => next == accept ? drop : next,
            "accept" => accept,
            _ => throw new InvalidOperationException(label),
        };
        var offset = target - at - 1;
        return offset is >= 0 and < Drop ? (byte)offset : throw new InvalidOperationException("BPF jump out of range");
    }
}
