// RMCP+ wire formats (IPMI 2.0 section 13): RMCP header, session header and trailer, the session set-up
// payloads, and IPMI LAN messages with their checksums. Pure functions over spans; malformed input throws.
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Kraken.Modules.Power.Ipmi;

/// <summary>Payload types of the RMCP+ session header (low 6 bits of byte 5).</summary>
internal enum IpmiPayloadType : byte
{
    IpmiMessage = 0x00,
    OpenSessionRequest = 0x10,
    OpenSessionResponse = 0x11,
    Rakp1 = 0x12,
    Rakp2 = 0x13,
    Rakp3 = 0x14,
    Rakp4 = 0x15,
}

/// <summary>The keys of an active session: integrity key K1 and the AES key (the first 16 bytes of K2).</summary>
internal sealed class IpmiSessionKeys(IpmiCipherSuite suite, byte[] k1, byte[] aesKey) : IDisposable
{
    private readonly Aes _aes = CreateAes(aesKey);

    public IpmiCipherSuite Suite { get; } = suite;

    public byte[] K1 { get; } = k1;

    public Aes Aes => _aes;

    public void Dispose() => _aes.Dispose();

    private static Aes CreateAes(byte[] key)
    {
        var aes = Aes.Create();
        aes.Key = key;
        return aes;
    }
}

internal static class IpmiCodec
{
    /// <summary>Replies longer than this are rejected: the longest reply the driver asks for is well under 100 bytes.</summary>
    public const int MaxDatagram = 1024;

    // RMCP header: version 1.0 (0x06), reserved, sequence 0xFF (no RMCP ACK), class 0x07 (IPMI).
    private const byte RmcpVersion = 0x06;
    private const byte RmcpNoAck = 0xFF;
    private const byte RmcpClassIpmi = 0x07;

    // Session header auth type 0x06 marks RMCP+ (IPMI 2.0) framing.
    private const byte AuthTypeRmcpPlus = 0x06;
    private const byte Encrypted = 0x80;
    private const byte Authenticated = 0x40;
    private const byte NextHeader = 0x07;
    private const int HeaderLength = 16;

    // IPMI LAN message addressing: BMC responder 0x20, remote console software id 0x81.
    private const byte BmcAddress = 0x20;
    private const byte ConsoleAddress = 0x81;

    public static byte[] OpenSessionRequest(byte tag, uint consoleSessionId, byte privilege, IpmiCipherSuite suite)
    {
        Span<byte> p = stackalloc byte[32];
        p.Clear();
        p[0] = tag;
        p[1] = privilege;
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], consoleSessionId);
        WriteAlgorithm(p[8..], 0x00, suite.Authentication);
        WriteAlgorithm(p[16..], 0x01, suite.Integrity);
        WriteAlgorithm(p[24..], 0x02, suite.Confidentiality);
        return Unauthenticated(IpmiPayloadType.OpenSessionRequest, p);
    }

    public static byte[] Rakp1(byte tag, uint bmcSessionId, ReadOnlySpan<byte> consoleRandom, byte role, ReadOnlySpan<byte> user)
    {
        Span<byte> p = stackalloc byte[28 + user.Length];
        p.Clear();
        p[0] = tag;
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], bmcSessionId);
        consoleRandom.CopyTo(p[8..]);
        p[24] = role;
        p[27] = (byte)user.Length;
        user.CopyTo(p[28..]);
        return Unauthenticated(IpmiPayloadType.Rakp1, p);
    }

    public static byte[] Rakp3(byte tag, byte status, uint bmcSessionId, ReadOnlySpan<byte> authCode)
    {
        Span<byte> p = stackalloc byte[8 + authCode.Length];
        p.Clear();
        p[0] = tag;
        p[1] = status;
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], bmcSessionId);
        authCode.CopyTo(p[8..]);
        return Unauthenticated(IpmiPayloadType.Rakp3, p);
    }

    /// <summary>Reads a set-up reply (no session yet): checks framing and returns the payload of the expected type.</summary>
    public static ReadOnlySpan<byte> ReadUnauthenticated(ReadOnlySpan<byte> datagram, IpmiPayloadType expected)
    {
        var h = ReadHeader(datagram);
        var type = h.Type;
        var flags = h.Flags;
        var payload = h.Payload;
        if ((flags & (Encrypted | Authenticated)) != 0)
        {
            Throw($"a session set-up reply ({type}) must be neither encrypted nor authenticated");
        }

        if (type != expected)
        {
            Throw($"expected payload {expected}, got {Describe(type)}");
        }

        return payload;
    }

    /// <summary>Builds an IPMI message packet in an active session: encrypted and authenticated as the suite says.</summary>
    public static byte[] SessionPacket(IpmiSessionKeys keys, uint bmcSessionId, uint sequence, ReadOnlySpan<byte> message)
    {
        var suite = keys.Suite;
        var padded = (message.Length + 1 + 15) / 16 * 16;
        var payloadLength = 16 + padded;
        var beforePad = HeaderLength - 4 + payloadLength;
        var pad = (4 - (beforePad + 2) % 4) % 4;
        var total = HeaderLength + payloadLength + pad + 2 + suite.AuthCodeLength;
        var packet = new byte[total];
        var s = packet.AsSpan();
        WriteRmcp(s);
        s[4] = AuthTypeRmcpPlus;
        s[5] = (byte)(Encrypted | Authenticated | (byte)IpmiPayloadType.IpmiMessage);
        BinaryPrimitives.WriteUInt32LittleEndian(s[6..], bmcSessionId);
        BinaryPrimitives.WriteUInt32LittleEndian(s[10..], sequence);
        BinaryPrimitives.WriteUInt16LittleEndian(s[14..], (ushort)payloadLength);

        // Confidentiality payload: IV, then AES-CBC of message + pad bytes 1, 2, ... + pad length.
        var iv = s.Slice(HeaderLength, 16);
        RandomNumberGenerator.Fill(iv);
        Span<byte> plain = stackalloc byte[padded];
        message.CopyTo(plain);
        var confPad = padded - message.Length - 1;
        for (var i = 0; i < confPad; i++)
        {
            plain[message.Length + i] = (byte)(i + 1);
        }

        plain[^1] = (byte)confPad;
        keys.Aes.EncryptCbc(plain, iv, s.Slice(HeaderLength + 16, padded), PaddingMode.None);

        var trailer = HeaderLength + payloadLength;
        s.Slice(trailer, pad).Fill(0xFF);
        s[trailer + pad] = (byte)pad;
        s[trailer + pad + 1] = NextHeader;
        var signed = s[4..(trailer + pad + 2)];
        suite.Hmac(keys.K1, signed).AsSpan(0, suite.AuthCodeLength).CopyTo(s[(trailer + pad + 2)..]);
        return packet;
    }

    /// <summary>
    /// Reads an IPMI message reply in an active session: checks the session id, verifies the authentication
    /// code and decrypts. Returns the IPMI message.
    /// </summary>
    public static byte[] ReadSessionPacket(ReadOnlySpan<byte> datagram, IpmiSessionKeys keys, uint consoleSessionId)
    {
        var h = ReadHeader(datagram);
        var type = h.Type;
        var flags = h.Flags;
        var sessionId = h.SessionId;
        var payload = h.Payload;
        if (type != IpmiPayloadType.IpmiMessage)
        {
            Throw($"expected an IPMI message payload, got {Describe(type)}");
        }

        if (sessionId != consoleSessionId)
        {
            Throw($"session id 0x{sessionId:x8} is not this session's (0x{consoleSessionId:x8})");
        }

        if ((flags & Authenticated) == 0 || (flags & Encrypted) == 0)
        {
            Throw("the reply is not encrypted and authenticated as the session's cipher suite requires");
        }

        var suite = keys.Suite;
        var trailer = HeaderLength + payload.Length;
        var rest = datagram[trailer..];
        var pad = (4 - (HeaderLength - 4 + payload.Length + 2) % 4) % 4;
        if (rest.Length < pad + 2 + suite.AuthCodeLength)
        {
            Throw($"session trailer truncated ({rest.Length} bytes after the payload, {pad + 2 + suite.AuthCodeLength} needed)");
        }

        if (rest.Length > pad + 2 + suite.AuthCodeLength)
        {
            Throw($"{rest.Length - pad - 2 - suite.AuthCodeLength} unexpected bytes after the session trailer");
        }

        if (rest[pad] != pad || rest[pad + 1] != NextHeader)
        {
            Throw($"bad session trailer (pad length {rest[pad]}, next header 0x{rest[pad + 1]:x2})");
        }

        var expected = suite.Hmac(keys.K1, datagram[4..(trailer + pad + 2)]);
        if (!CryptographicOperations.FixedTimeEquals(expected.AsSpan(0, suite.AuthCodeLength), rest.Slice(pad + 2, suite.AuthCodeLength)))
        {
            Throw("authentication code mismatch (wrong key or corrupted reply)");
        }

        if (payload.Length < 32 || payload.Length % 16 != 0)
        {
            Throw($"encrypted payload of {payload.Length} bytes is not an IV plus whole AES blocks");
        }

        var plain = keys.Aes.DecryptCbc(payload[16..], payload[..16], PaddingMode.None);
        var confPad = plain[^1];
        if (confPad > 15 || confPad + 1 > plain.Length)
        {
            Throw($"confidentiality pad length {confPad} is invalid");
        }

        for (var i = 0; i < confPad; i++)
        {
            if (plain[plain.Length - 1 - confPad + i] != i + 1)
            {
                Throw("confidentiality pad bytes are not 1, 2, 3, ...");
            }
        }

        return plain[..^(confPad + 1)];
    }

    /// <summary>An IPMI LAN request from the remote console to the BMC (IPMI 2.0 section 13.8).</summary>
    public static byte[] Request(byte netFn, byte command, byte rqSeq, ReadOnlySpan<byte> data)
    {
        var m = new byte[7 + data.Length];
        m[0] = BmcAddress;
        m[1] = (byte)(netFn << 2);
        m[2] = Checksum(m.AsSpan(0, 2));
        m[3] = ConsoleAddress;
        m[4] = (byte)(rqSeq << 2);
        m[5] = command;
        data.CopyTo(m.AsSpan(6));
        m[^1] = Checksum(m.AsSpan(3, 3 + data.Length));
        return m;
    }

    /// <summary>
    /// Reads the BMC's response to a request: checks both checksums and that it answers
    /// <paramref name="netFn"/>/<paramref name="command"/> with sequence <paramref name="rqSeq"/>; returns false when it
    /// answers another request (a late reply to an earlier try), throws when it is malformed.
    /// </summary>
    public static bool TryReadResponse(ReadOnlySpan<byte> message, byte netFn, byte command, byte rqSeq, out byte completionCode, out ReadOnlySpan<byte> data)
    {
        completionCode = 0;
        data = default;
        if (message.Length < 8)
        {
            Throw($"IPMI response of {message.Length} bytes is shorter than the 8-byte minimum");
        }

        if (Checksum(message[..2]) != message[2])
        {
            Throw("IPMI response header checksum mismatch");
        }

        if (Checksum(message[3..^1]) != message[^1])
        {
            Throw("IPMI response body checksum mismatch");
        }

        if (message[1] >> 2 != (netFn | 1) || message[5] != command || message[4] >> 2 != rqSeq)
        {
            return false;
        }

        completionCode = message[6];
        data = message[7..^1];
        return true;
    }

    public static string Describe(IpmiPayloadType type) => Enum.IsDefined(type) ? type.ToString() : $"payload type 0x{(byte)type:x2}";

    [DoesNotReturn]
    public static void Throw(string message) => throw new PowerException(PowerErrorKind.Protocol, "malformed RMCP+ reply: " + message);

    private static Header ReadHeader(ReadOnlySpan<byte> d)
    {
        if (d.Length > MaxDatagram)
        {
            Throw($"{d.Length} bytes exceed the {MaxDatagram}-byte maximum");
        }

        if (d.Length < 4)
        {
            Throw($"{d.Length} bytes are too short for an RMCP header");
        }

        if (d[0] != RmcpVersion || d[3] != RmcpClassIpmi)
        {
            Throw($"not an RMCP IPMI packet (version 0x{d[0]:x2}, class 0x{d[3]:x2})");
        }

        if (d.Length < 5)
        {
            Throw("truncated before the session header");
        }

        if (d[4] != AuthTypeRmcpPlus)
        {
            Throw($"session auth type 0x{d[4]:x2} is not RMCP+ (0x06): the BMC answered in IPMI 1.5 framing");
        }

        if (d.Length < HeaderLength)
        {
            Throw($"{d.Length} bytes are too short for the {HeaderLength}-byte RMCP+ session header");
        }

        var flags = (byte)(d[5] & 0xC0);
        var type = (IpmiPayloadType)(d[5] & 0x3F);
        var length = BinaryPrimitives.ReadUInt16LittleEndian(d[14..]);
        if (HeaderLength + length > d.Length)
        {
            Throw($"payload length {length} runs past the end of the {d.Length}-byte packet");
        }

        var payload = d.Slice(HeaderLength, length);
        if ((flags & Authenticated) == 0 && HeaderLength + length != d.Length)
        {
            Throw($"{d.Length - HeaderLength - length} unexpected bytes after an unauthenticated payload");
        }

        return new Header(type, flags, BinaryPrimitives.ReadUInt32LittleEndian(d[6..]), payload);
    }

    public static byte[] Unauthenticated(IpmiPayloadType type, ReadOnlySpan<byte> payload)
    {
        var packet = new byte[HeaderLength + payload.Length];
        WriteRmcp(packet);
        packet[4] = AuthTypeRmcpPlus;
        packet[5] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(packet.AsSpan(14), (ushort)payload.Length);
        payload.CopyTo(packet.AsSpan(HeaderLength));
        return packet;
    }

    private static void WriteRmcp(Span<byte> s)
    {
        s[0] = RmcpVersion;
        s[1] = 0;
        s[2] = RmcpNoAck;
        s[3] = RmcpClassIpmi;
    }

    private static void WriteAlgorithm(Span<byte> s, byte payloadType, byte algorithm)
    {
        s[0] = payloadType;
        s[3] = 0x08;
        s[4] = algorithm;
    }

    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (var b in bytes)
        {
            sum += b;
        }

        return (byte)-sum;
    }

    private readonly ref struct Header(IpmiPayloadType type, byte flags, uint sessionId, ReadOnlySpan<byte> payload)
    {
        public IpmiPayloadType Type { get; } = type;

        public byte Flags { get; } = flags;

        public uint SessionId { get; } = sessionId;

        public ReadOnlySpan<byte> Payload { get; } = payload;
    }
}
