// The server's answers: the RFC 2131 4.3 decisions per message type and how a reply is addressed (4.1).
using Kraken.Net.Packets;

namespace Kraken.Modules.Pxe.Dhcp;

public sealed partial class DhcpServer
{
    // Wire forms of the vendor options this server writes.
    private static ReadOnlySpan<byte> PxeClient => "PXEClient"u8;
    private static ReadOnlySpan<byte> HttpClient => "HTTPClient"u8;

    /// <summary>PXE vendor options (43): discovery control (6) = 8, boot the file we name without a boot server search.</summary>
    private static ReadOnlySpan<byte> PxeDiscoveryControl => [6, 1, 8, DhcpOption.End];

    /// <summary>iPXE settings (175): no-pxedhcp (176) = 1.</summary>
    private static ReadOnlySpan<byte> IpxeNoPxeDhcpSetting => [DhcpOption.IpxeNoPxeDhcp, 1, 1];

    private int Offer(in Request request, DhcpBinding binding, Span<byte> output)
    {
        var address = Ipv4.ToUInt32(binding.Address);
        Observe(in request, binding, binding.Address, acked: false);
        return Reply(in request, binding, DhcpMessageType.Offer, address, output);
    }

    /// <summary>REQUEST in SELECTING, INIT-REBOOT, RENEWING or REBINDING state (RFC 2131 4.3.2).</summary>
    private int Acknowledge(in Request request, DhcpBinding binding, Span<byte> output)
    {
        var m = request.Message;
        var bound = Ipv4.ToUInt32(binding.Address);
        uint asked;
        if (m.ServerIdentifier is { } serverId)
        {
            // SELECTING: the client answers an OFFER, ours or another server's.
            if (serverId != _serverIp)
            {
                Observe(in request, binding, null, acked: false);
                return Drop(DhcpDropReason.OtherServer);
            }

            if (m.RequestedAddress is not { } selected)
            {
                Observe(in request, binding, null, acked: false);
                return Drop(DhcpDropReason.BadRequest);
            }

            asked = selected;
        }
        else if (m.RequestedAddress is { } previous)
        {
            asked = previous;           // INIT-REBOOT: verifying a remembered address
        }
        else if (m.ClientAddress != 0)
        {
            asked = m.ClientAddress;    // RENEWING (unicast) or REBINDING (broadcast)
        }
        else
        {
            Observe(in request, binding, null, acked: false);
            return Drop(DhcpDropReason.BadRequest);
        }

        if (asked != bound)
        {
            Observe(in request, binding, null, acked: false);
            DhcpLog.Nak(_logger, m.ClientMac.ToString(), binding.Node, Ipv4.ToAddress(asked).ToString(), binding.Address.ToString());
            return Nak(in request, output);
        }

        Observe(in request, binding, binding.Address, acked: true);
        return Reply(in request, binding, DhcpMessageType.Ack, bound, output);
    }

    private int Decline(in Request request, DhcpBinding binding)
    {
        var m = request.Message;
        if (m.ServerIdentifier is { } serverId && serverId != _serverIp)
        {
            Observe(in request, binding, null, acked: false);
            return Drop(DhcpDropReason.OtherServer);
        }

        // A static address has no alternative to offer: the conflict is for an operator to resolve.
        var declined = m.RequestedAddress is { } requested ? Ipv4.ToAddress(requested) : binding.Address;
        DhcpLog.Declined(_logger, m.ClientMac.ToString(), binding.Node, declined.ToString());
        Observe(in request, binding, declined, acked: false);
        return 0;
    }

    private int Release(in Request request, DhcpBinding binding)
    {
        var m = request.Message;
        if (m.ServerIdentifier is { } serverId && serverId != _serverIp)
        {
            Observe(in request, binding, null, acked: false);
            return Drop(DhcpDropReason.OtherServer);
        }

        Observe(in request, binding, m.ClientAddress != 0 ? Ipv4.ToAddress(m.ClientAddress) : null, acked: false);
        return 0;
    }

    /// <summary>INFORM: configuration only, no address and no lease (RFC 2131 4.3.5).</summary>
    private int Inform(in Request request, DhcpBinding binding, Span<byte> output)
    {
        Observe(in request, binding, null, acked: true);
        return Reply(in request, binding, DhcpMessageType.Ack, 0, output);
    }

    private int Nak(in Request request, Span<byte> output)
    {
        var m = request.Message;
        var payload = PayloadArea(output, m);
        var writer = new DhcpWriter(payload);
        var flags = m.RelayAddress != 0 ? (ushort)(m.Flags | DhcpMessage.BroadcastFlag) : m.Flags;
        writer.Header(DhcpMessage.BootReply, m.TransactionId, 0, flags, 0, 0, 0, m.RelayAddress, m.ClientMac);
        writer.Option(DhcpOption.MessageType, (byte)DhcpMessageType.Nak);
        writer.OptionUInt32(DhcpOption.ServerIdentifier, _serverIp);
        writer.OptionAscii(DhcpOption.Message, "requested address is not bound to this client");
        EchoRelayAgentInformation(ref writer, in request);
        var length = writer.Finish();

        // RFC 2131 4.3.2: a NAK is broadcast, or sent to the relay with the broadcast bit set.
        return m.RelayAddress != 0
            ? Frame(output, request.Frame.SourceMac, m.RelayAddress, ServerPort, length, DhcpMessageType.Nak)
            : Frame(output, MacAddress.Broadcast, Ipv4.Broadcast, ClientPort, length, DhcpMessageType.Nak);
    }

    /// <summary>An OFFER or ACK with the node's configuration; <paramref name="address"/> 0 means an INFORM answer.</summary>
    private int Reply(in Request request, DhcpBinding binding, DhcpMessageType type, uint address, Span<byte> output)
    {
        var m = request.Message;
        var datagram = request.Datagram;
        var inform = m.MessageType == DhcpMessageType.Inform;
        var isIpxe = m.IsIpxe(datagram);
        var pxe = m.VendorClassStartsWith(datagram, PxeClient);
        var http = m.Arch == DhcpClientArch.UefiHttp || m.VendorClassStartsWith(datagram, HttpClient);
        var bootFile = BootFile(in m, binding, isIpxe, pxe, http);

        var payload = PayloadArea(output, m);
        var writer = new DhcpWriter(payload);
        writer.Header(DhcpMessage.BootReply, m.TransactionId, 0, m.Flags, inform ? m.ClientAddress : 0, address,
            bootFile is null ? 0 : _serverIp, m.RelayAddress, m.ClientMac, file: bootFile, hops: 0);
        writer.Option(DhcpOption.MessageType, (byte)type);
        writer.OptionUInt32(DhcpOption.ServerIdentifier, _serverIp);
        if (!inform)
        {
            writer.OptionUInt32(DhcpOption.LeaseTime, _leaseSeconds);
            writer.OptionUInt32(DhcpOption.RenewalTime, _leaseSeconds / 2);
            writer.OptionUInt32(DhcpOption.RebindingTime, (uint)(_leaseSeconds * 7UL / 8));
        }

        var bound = Ipv4.ToUInt32(binding.Address);
        var mask = Ipv4.Mask(binding.PrefixLength);
        writer.OptionUInt32(DhcpOption.SubnetMask, mask);
        if (binding.PrefixLength < 31)
        {
            writer.OptionUInt32(DhcpOption.BroadcastAddress, bound | ~mask);
        }

        if (binding.Gateway is { } gateway)
        {
            writer.OptionUInt32(DhcpOption.Router, Ipv4.ToUInt32(gateway));
        }

        if (_dns.Length > 0)
        {
            Span<byte> servers = stackalloc byte[_dns.Length * 4];
            for (var i = 0; i < _dns.Length; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(servers[(i * 4)..], _dns[i]);
            }

            writer.Option(DhcpOption.DomainNameServer, servers);
        }

        if (!string.IsNullOrEmpty(binding.Hostname))
        {
            writer.OptionAscii(DhcpOption.HostName, binding.Hostname);
        }

        if (_options.DomainName is { Length: > 0 } domain)
        {
            writer.OptionAscii(DhcpOption.DomainName, domain);
        }

        if (bootFile is not null && m.Requested(datagram, DhcpOption.TftpServerName))
        {
            writer.OptionAscii(DhcpOption.TftpServerName, _serverAddressText);    // firmware that ignores siaddr
        }

        if (bootFile is not null && m.Requested(datagram, DhcpOption.BootFileName))
        {
            writer.OptionAscii(DhcpOption.BootFileName, bootFile);
        }

        if (http)
        {
            writer.Option(DhcpOption.VendorClass, HttpClient);
        }
        else if (pxe)
        {
            writer.Option(DhcpOption.VendorClass, PxeClient);
            if (!isIpxe)
            {
                writer.Option(DhcpOption.VendorSpecific, PxeDiscoveryControl);
            }
        }

        if (m.ClientUuid.Present)
        {
            writer.Option(DhcpOption.ClientUuid, m.ClientUuid.Of(datagram));
        }

        if (isIpxe && _options.IpxeNoPxeDhcp)
        {
            writer.Option(DhcpOption.Ipxe, IpxeNoPxeDhcpSetting);
        }

        EchoRelayAgentInformation(ref writer, in request);
        var length = writer.Finish();
        if (_logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            DhcpLog.Answered(_logger, DhcpCounters.TypeName(type), binding.Address.ToString(), m.ClientMac.ToString(), binding.Node,
                DhcpCounters.TypeName(m.MessageType));
        }

        // RFC 2131 4.1: relay first, then a configured client (ciaddr), then broadcast if asked, else unicast to
        // yiaddr at chaddr (the raw link needs no ARP entry for that).
        if (m.RelayAddress != 0)
        {
            return Frame(output, request.Frame.SourceMac, m.RelayAddress, ServerPort, length, type);
        }

        if (m.ClientAddress != 0)
        {
            return Frame(output, m.ClientMac, m.ClientAddress, ClientPort, length, type);
        }

        return m.Broadcast || address == 0
            ? Frame(output, MacAddress.Broadcast, Ipv4.Broadcast, ClientPort, length, type)
            : Frame(output, m.ClientMac, address, ClientPort, length, type);
    }

    /// <summary>RFC 3046 2.2: a relay's option 82 comes back unchanged, last before the end option.</summary>
    private static void EchoRelayAgentInformation(ref DhcpWriter writer, in Request request)
    {
        if (request.Message.RelayAddress != 0 && request.Message.RelayAgentInformation.Present)
        {
            writer.Option(DhcpOption.RelayAgentInformation, request.Message.RelayAgentInformation.Of(request.Datagram));
        }
    }

    private string? BootFile(in DhcpMessage m, DhcpBinding binding, bool isIpxe, bool pxe, bool http)
    {
        if (isIpxe && _options.IpxeScriptUrl is { } script)
        {
            return Expand(script, binding, m.ClientMac);
        }

        if (http)
        {
            return _options.HttpBootUrl is { } url ? Expand(url, binding, m.ClientMac) : null;
        }

        if (!pxe && !isIpxe && m.ClientArchType is null)
        {
            return null;    // a plain DHCP client: no boot file
        }

        return m.Arch switch
        {
            DhcpClientArch.UefiX64 => _options.UefiBootFile,
            DhcpClientArch.Bios => _options.BiosBootFile,
            _ when m.ClientArchType is null => _options.BiosBootFile,   // old BIOS ROMs omit option 93
            _ => null,
        };
    }

    private static string Expand(string template, DhcpBinding binding, MacAddress mac)
    {
        if (!template.Contains('{', StringComparison.Ordinal))
        {
            return template;
        }

        var expanded = template.Replace("{node}", binding.Node.ToString(), StringComparison.Ordinal)
            .Replace("{mac}", mac.ToString(), StringComparison.Ordinal)
            .Replace("{ip}", binding.Address.ToString(), StringComparison.Ordinal);
        return expanded.Length < DhcpCodec.FileLength ? expanded : expanded[..(DhcpCodec.FileLength - 1)];
    }

    /// <summary>Where the DHCP message goes in the output frame, limited by the client's maximum message size.</summary>
    private Span<byte> PayloadArea(Span<byte> output, in DhcpMessage m)
    {
        const int ipUdp = UdpFrame.Ipv4HeaderLength + UdpFrame.UdpHeaderLength;
        var limit = Math.Min(output.Length, _frameSize) - UdpFrame.HeaderLength;
        if (m.MaxMessageSize is { } max)
        {
            limit = Math.Min(limit, Math.Max(max, (ushort)576) - ipUdp);
        }

        return output.Slice(UdpFrame.HeaderLength, limit);
    }

    private int Frame(Span<byte> output, MacAddress destinationMac, uint destinationIp, ushort destinationPort, int payloadLength, DhcpMessageType type)
    {
        var length = UdpFrame.WriteHeaders(output, _serverMac, destinationMac, _serverIp, destinationIp, ServerPort, destinationPort,
            payloadLength, identification: unchecked(_ipIdentification++));
        Counters.OnSent(type);
        return length;
    }
}
