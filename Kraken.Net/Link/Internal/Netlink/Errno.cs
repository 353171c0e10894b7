// Symbolic names of the Linux errno values (asm-generic/errno-base.h, errno.h) netlink requests can return.
namespace Kraken.Net.Link.Internal.Netlink;

internal static class Errno
{
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int ENODEV = 19;
    public const int EEXIST = 17;
    public const int EADDRNOTAVAIL = 99;

    public static string Name(int errno) => errno switch
    {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        28 => "ENOSPC",
        34 => "ERANGE",
        42 => "ENOMSG",
        61 => "ENODATA",
        71 => "EPROTO",
        74 => "EBADMSG",
        75 => "EOVERFLOW",
        90 => "EMSGSIZE",
        92 => "ENOPROTOOPT",
        93 => "EPROTONOSUPPORT",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        101 => "ENETUNREACH",
        105 => "ENOBUFS",
        110 => "ETIMEDOUT",
        113 => "EHOSTUNREACH",
        524 => "ENOTSUPP",
        _ => $"errno {errno}",
    };
}
