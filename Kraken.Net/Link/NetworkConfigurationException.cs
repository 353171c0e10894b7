// Failures of the interface configurator: the kernel refused a change (errno), gave no reply, or replied with a
// message that breaks the netlink format.
using System.Diagnostics.CodeAnalysis;

namespace Kraken.Net.Link;

/// <summary>
/// The network could not be configured as asked. <see cref="Operation"/> says what was being done and
/// <see cref="InterfaceName"/> on which interface (null when none was involved).
/// </summary>
public class NetworkConfigurationException : IOException
{
    public NetworkConfigurationException()
    {
        Operation = string.Empty;
    }

    public NetworkConfigurationException(string message)
        : base(message)
    {
        Operation = string.Empty;
    }

    public NetworkConfigurationException(string message, Exception inner)
        : base(message, inner)
    {
        Operation = string.Empty;
    }

    public NetworkConfigurationException(string operation, string? interfaceName, string message)
        : base(message)
    {
        Operation = operation;
        InterfaceName = interfaceName;
    }

    public string Operation { get; }

    public string? InterfaceName { get; }
}

/// <summary>The kernel refused a request: <see cref="Errno"/> with its symbolic name and the kernel's own text, if any.</summary>
public sealed class NetlinkException : NetworkConfigurationException
{
    public NetlinkException()
    {
        ErrnoName = string.Empty;
    }

    public NetlinkException(string message)
        : base(message)
    {
        ErrnoName = string.Empty;
    }

    public NetlinkException(string message, Exception inner)
        : base(message, inner)
    {
        ErrnoName = string.Empty;
    }

    public NetlinkException(string operation, string? interfaceName, int errno, string? kernelMessage)
        : base(operation, interfaceName, Describe(operation, interfaceName, errno, kernelMessage))
    {
        Errno = errno;
        ErrnoName = Internal.Netlink.Errno.Name(errno);
        KernelMessage = kernelMessage;
    }

    /// <summary>The positive errno value (17 for EEXIST).</summary>
    public int Errno { get; }

    /// <summary>The symbolic name (<c>EEXIST</c>), or <c>errno N</c> for a number without one.</summary>
    public string ErrnoName { get; }

    /// <summary>The kernel's extended-ack text (e.g. "MTU greater than device maximum"), when it sent one.</summary>
    public string? KernelMessage { get; }

    private static string Describe(string operation, string? interfaceName, int errno, string? kernelMessage)
    {
        var on = interfaceName is null ? string.Empty : $" on {interfaceName}";
        var text = System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
        var kernel = string.IsNullOrEmpty(kernelMessage) ? string.Empty : $": {kernelMessage}";
        return $"{operation}{on}: {Internal.Netlink.Errno.Name(errno)} ({text}, errno {errno}){kernel}";
    }
}

/// <summary>A reply broke the netlink format (a length past its end, an attribute of the wrong size...).</summary>
public sealed class NetlinkProtocolException : NetworkConfigurationException
{
    public NetlinkProtocolException()
    {
    }

    public NetlinkProtocolException(string message)
        : base(message)
    {
    }

    public NetlinkProtocolException(string message, Exception inner)
        : base(message, inner)
    {
    }

    [DoesNotReturn]
    internal static void Throw(string message) => throw new NetlinkProtocolException($"netlink: {message}");
}
