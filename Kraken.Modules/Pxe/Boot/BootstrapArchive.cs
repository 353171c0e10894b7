// The per-boot archive that carries a node's bootstrap credential into its initramfs.
using System.Text;
using Kraken.Tree.State;

namespace Kraken.Modules.Pxe;

/// <summary>
/// What the parent hands one boot of one node, as a second initrd after the image's own: a newc archive holding
/// <c>/etc/kraken/bootstrap</c> (mode 0600), whose first line is the node's bootstrap credential in hex and whose
/// second line is the node's id. <c>kraken serve --boot</c> reads it and deletes it. The cluster's join secret is
/// never in it, nor in any other boot file.
/// </summary>
public static class BootstrapArchive
{
    /// <summary>The path under the HTTP boot server (and TFTP) a booting node fetches it from.</summary>
    public const string Path = "boot/bootstrap.cpio";

    /// <summary>Where the file lands in the node's initramfs.</summary>
    public const string FilePath = "etc/kraken/bootstrap";

    public static byte[] Create(NodeId node, ReadOnlySpan<byte> credential)
    {
        var text = $"{Convert.ToHexStringLower(credential)}\n{node}\n";
        return new CpioArchive()
            .Directory("etc")
            .Directory("etc/kraken", 0x1C0)
            .File(FilePath, Encoding.ASCII.GetBytes(text), 0x180)
            .ToArray();
    }
}
