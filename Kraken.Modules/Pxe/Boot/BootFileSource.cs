// TFTP files: a client's own rendered boot files first, then the plain files of the TFTP root.
using System.Net;
using Kraken.Modules.Pxe.Tftp;

namespace Kraken.Modules.Pxe;

/// <summary>
/// Serves over TFTP the files <see cref="BootFiles"/> renders for the requesting node (found by the client's
/// address: its iPXE script under <see cref="BootFilesOptions.IpxeScriptName"/> and its
/// <c>pxelinux.cfg/01-&lt;mac&gt;</c>), and everything else from <paramref name="fallback"/> (normally a
/// confined <see cref="DirectoryFileSource"/>).
/// </summary>
public sealed class BootFileSource(BootFiles files, ITftpFileSource fallback) : ITftpFileSource
{
    private readonly BootFiles _files = files ?? throw new ArgumentNullException(nameof(files));
    private readonly ITftpFileSource _fallback = fallback ?? throw new ArgumentNullException(nameof(fallback));

    /// <summary>Rendered files first, then the directory <paramref name="root"/>.</summary>
    public BootFileSource(BootFiles files, string root)
        : this(files, new DirectoryFileSource(root))
    {
    }

    public ValueTask<TftpFile?> OpenAsync(string path, IPEndPoint client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(client);
        byte[]? rendered;
        try
        {
            rendered = _files.TryRenderForClient(path, client.Address);
        }
        catch (BootRenderException)
        {
            // The client's own file exists but cannot be said safely: not found, and never a same-named plain file.
            return ValueTask.FromResult<TftpFile?>(null);
        }

        if (rendered is not null)
        {
            return ValueTask.FromResult<TftpFile?>(new TftpFile(new MemoryStream(rendered, writable: false), rendered.Length));
        }

        return _fallback.OpenAsync(path, client, cancellationToken);
    }
}
