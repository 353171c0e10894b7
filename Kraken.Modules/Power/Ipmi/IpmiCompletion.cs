// Human-readable IPMI completion codes and RMCP+ status codes, for error messages.
namespace Kraken.Modules.Power.Ipmi;

internal static class IpmiCompletion
{
    public static string Describe(byte cc) => cc switch
    {
        0xC0 => "node busy (0xC0)",
        0xC1 => "invalid command (0xC1)",
        0xC3 => "timeout while processing (0xC3)",
        0xC7 => "request data length invalid (0xC7)",
        0xC9 => "parameter out of range (0xC9)",
        0xCC => "invalid data field in request (0xCC)",
        0xCE => "command response could not be provided (0xCE)",
        0xD4 => "insufficient privilege level (0xD4)",
        0xD5 => "command not supported in present state (0xD5)",
        0xFF => "unspecified error (0xFF)",
        _ => $"completion code 0x{cc:x2}",
    };

    public static string DescribeRmcpStatus(byte status) => status switch
    {
        0x01 => "insufficient resources to create a session (0x01)",
        0x02 => "invalid session id (0x02)",
        0x04 => "invalid authentication algorithm (0x04): the BMC does not offer this cipher suite",
        0x05 => "invalid integrity algorithm (0x05): the BMC does not offer this cipher suite",
        0x09 => "invalid role (0x09)",
        0x0A => "unauthorized role or privilege level requested (0x0A)",
        0x0B => "insufficient resources to create a session at the requested role (0x0B)",
        0x0C => "invalid name length (0x0C)",
        0x0D => "unauthorized name (0x0D): the BMC has no such user",
        0x0E => "unauthorized GUID (0x0E)",
        0x0F => "invalid integrity check value (0x0F): wrong password",
        0x10 => "invalid confidentiality algorithm (0x10): the BMC does not offer this cipher suite",
        0x11 => "no cipher suite match (0x11)",
        0x12 => "illegal or unrecognized parameter (0x12)",
        _ => $"RMCP+ status 0x{status:x2}",
    };
}
