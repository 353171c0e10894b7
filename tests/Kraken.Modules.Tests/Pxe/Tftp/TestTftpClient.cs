// A small async TFTP client for tests that need thousands of transfers or injected loss; not the code under test.
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kraken.Modules.Tests.Pxe.Tftp;

internal sealed class TftpClientError : Exception
{
    public TftpClientError(int code, string message)
        : base($"TFTP error {code}: {message}") => Code = code;

    public int Code { get; }
}

internal sealed record TestReadOptions
{
    public int? BlockSize { get; init; }

    public int? WindowSize { get; init; }

    public bool TransferSize { get; init; }

    /// <summary>The RFC 2349 timeout option (seconds) to ask the server for.</summary>
    public int? ServerTimeout { get; init; }

    public string Mode { get; init; } = "octet";

    /// <summary>Called for every DATA packet (block index from 1, attempt from 1); true = lose it.</summary>
    public Func<long, int, bool>? Lose { get; init; }

    /// <summary>Send every ACK twice (provokes the Sorcerer's Apprentice in a server that answers duplicates).</summary>
    public bool DuplicateAcks { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    public int Retries { get; init; } = 8;
}

internal sealed record TestReadResult(byte[] Data, Dictionary<string, string> Oack, int DataPackets);

internal static class TestTftpClient
{
    public static async Task<TestReadResult> ReadAsync(IPEndPoint server, string path, TestReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new TestReadOptions();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(server.Address, 0));
        var request = Request(path, options);
        await socket.SendToAsync(request, server, cancellationToken);

        var buffer = new byte[70000];
        var data = new MemoryStream();
        var oack = new Dictionary<string, string>();
        var attempts = new Dictionary<long, int>();
        EndPoint? tid = null;
        var blockSize = 512;
        var window = 1;
        long expected = 1;          // next block index wanted
        var inWindow = 0;
        var lastAck = new byte[4];
        var haveAck = false;
        var retries = 0;
        var packets = 0;
        while (true)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Timeout);
            SocketReceiveFromResult r;
            try
            {
                r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (++retries > options.Retries)
                {
                    throw new TimeoutException($"no answer for block {expected} of {path}");
                }

                if (haveAck)
                {
                    await socket.SendToAsync(lastAck, tid!, cancellationToken);
                }
                else if (tid is null)
                {
                    await socket.SendToAsync(request, server, cancellationToken);
                }

                continue;
            }

            if (tid is null)
            {
                tid = r.RemoteEndPoint;
            }
            else if (!tid.Equals(r.RemoteEndPoint))
            {
                continue;
            }

            var packet = buffer.AsSpan(0, r.ReceivedBytes);
            var op = BinaryPrimitives.ReadUInt16BigEndian(packet);
            switch (op)
            {
                case 5:
                    var code = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                    throw new TftpClientError(code, Encoding.ASCII.GetString(packet[4..]).TrimEnd('\0'));
                case 6:
                    ParseOack(packet[2..], oack);
                    if (oack.TryGetValue("blksize", out var b))
                    {
                        blockSize = int.Parse(b, CultureInfo.InvariantCulture);
                    }

                    if (oack.TryGetValue("windowsize", out var w))
                    {
                        window = int.Parse(w, CultureInfo.InvariantCulture);
                    }

                    await AckAsync(0);
                    continue;
                case 3:
                    packets++;
                    var block = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                    var index = expected;
                    if (block != (ushort)index)
                    {
                        // Out of order or repeated: acknowledge what we have, once per window (RFC 7440).
                        if (inWindow >= 0 && (ushort)(block - (ushort)index) < 32768)
                        {
                            inWindow = -1;
                            await AckAsync((ushort)(expected - 1));
                        }

                        continue;
                    }

                    attempts[index] = attempts.GetValueOrDefault(index) + 1;
                    if (options.Lose?.Invoke(index, attempts[index]) == true)
                    {
                        continue;
                    }

                    retries = 0;
                    var payload = packet[4..];
                    data.Write(payload);
                    expected++;
                    inWindow = Math.Max(inWindow, 0) + 1;
                    var last = payload.Length < blockSize;
                    if (last || inWindow >= window)
                    {
                        inWindow = 0;
                        await AckAsync(block);
                    }

                    if (last)
                    {
                        return new TestReadResult(data.ToArray(), oack, packets);
                    }

                    continue;
                default:
                    throw new InvalidOperationException($"unexpected opcode {op}");
            }
        }

        async Task AckAsync(ushort block)
        {
            BinaryPrimitives.WriteUInt16BigEndian(lastAck, 4);
            BinaryPrimitives.WriteUInt16BigEndian(lastAck.AsSpan(2), block);
            haveAck = true;
            await socket.SendToAsync(lastAck, tid!, cancellationToken);
            if (options.DuplicateAcks)
            {
                await socket.SendToAsync(lastAck, tid!, cancellationToken);
            }
        }
    }

    public static byte[] Request(string path, TestReadOptions options, int opcode = 1)
    {
        var ms = new MemoryStream();
        ms.WriteByte(0);
        ms.WriteByte((byte)opcode);
        Put(ms, path);
        Put(ms, options.Mode);
        if (options.BlockSize is { } b)
        {
            Put(ms, "blksize");
            Put(ms, b.ToString(CultureInfo.InvariantCulture));
        }

        if (options.TransferSize)
        {
            Put(ms, "tsize");
            Put(ms, "0");
        }

        if (options.ServerTimeout is { } t)
        {
            Put(ms, "timeout");
            Put(ms, t.ToString(CultureInfo.InvariantCulture));
        }

        if (options.WindowSize is { } w)
        {
            Put(ms, "windowsize");
            Put(ms, w.ToString(CultureInfo.InvariantCulture));
        }

        return ms.ToArray();
    }

    private static void Put(MemoryStream ms, string text)
    {
        ms.Write(Encoding.ASCII.GetBytes(text));
        ms.WriteByte(0);
    }

    private static void ParseOack(ReadOnlySpan<byte> body, Dictionary<string, string> into)
    {
        var parts = Encoding.ASCII.GetString(body).Split('\0');
        for (var i = 0; i + 1 < parts.Length; i += 2)
        {
            into[parts[i]] = parts[i + 1];
        }
    }
}
