// Runs code inside a named network namespace (ip netns add NAME): sockets and raw links opened there stay in
// that namespace whichever thread uses them later.
using System.Runtime.InteropServices;

namespace Kraken.Net.Link;

public static partial class NetworkNamespace
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>
    /// Calls <paramref name="body"/> on a fresh thread that entered <c>/var/run/netns/NAME</c> and returns its result.
    /// The thread ends afterwards, so no pooled thread is left in the namespace. Needs CAP_SYS_ADMIN.
    /// </summary>
    public static T Invoke<T>(string name, Func<T> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(body);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a namespace name", nameof(name));
        }

        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle(Path.Combine("/var/run/netns", name));
                if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    throw new IOException($"setns into {name}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                }

                result = body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = $"netns {name}" };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return result;
    }

    /// <summary>Opens a raw link on <paramref name="interfaceName"/> inside namespace <paramref name="name"/>.</summary>
    public static IRawLink OpenLink(string name, string interfaceName, RawLinkKind kind, RawLinkFilter filter) =>
        Invoke(name, () => RawLink.Open(interfaceName, kind, filter));

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
