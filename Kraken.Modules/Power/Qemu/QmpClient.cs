// A minimal QMP (QEMU Machine Protocol) client over a unix socket: greeting, capabilities, commands.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kraken.Modules.Power.Qemu;

/// <summary>One QMP connection; events are skipped, errors become <see cref="PowerException"/>s naming the command.</summary>
internal sealed class QmpClient : IAsyncDisposable
{
    private readonly NetworkStream _stream;
    private readonly string _path;
    private readonly int _maxLine;
    private readonly byte[] _buffer = new byte[4096];
    private readonly MemoryStream _line = new();
    private int _start;
    private int _end;

    private QmpClient(Socket socket, string path, int maxLine)
    {
        _stream = new NetworkStream(socket, ownsSocket: true);
        _path = path;
        _maxLine = maxLine;
    }

    /// <summary>Connects and negotiates; null when nothing listens on <paramref name="path"/> (the VM is off).</summary>
    public static async Task<QmpClient?> TryConnectAsync(string path, int maxLine, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // Refused or a stale socket file: no VM runs there.
            socket.Dispose();
            return null;
        }

        var client = new QmpClient(socket, path, maxLine);
        try
        {
            var greeting = await client.ReadMessageAsync(ct).ConfigureAwait(false);
            if (greeting["QMP"] is null)
            {
                throw client.Protocol("the first message is not a QMP greeting");
            }

            await client.ExecuteAsync("qmp_capabilities", ct).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<JsonNode?> ExecuteAsync(string command, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(new JsonObject { ["execute"] = command }.ToJsonString() + "\n");
        try
        {
            await _stream.WriteAsync(bytes, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new PowerException(PowerErrorKind.Unreachable, $"QMP socket {_path}: {e.Message}", e);
        }

        while (true)
        {
            var message = await ReadMessageAsync(ct).ConfigureAwait(false);
            if (message["event"] is not null)
            {
                continue;
            }

            if (message["error"] is JsonObject error)
            {
                throw new PowerException(PowerErrorKind.Refused, $"QMP {command} at {_path} failed: {error["desc"] ?? error["class"]}.");
            }

            return message.ContainsKey("return") ? message["return"] : throw Protocol($"the answer to {command} has neither return nor error");
        }
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync().ConfigureAwait(false);

    private async Task<JsonObject> ReadMessageAsync(CancellationToken ct)
    {
        var line = await ReadLineAsync(ct).ConfigureAwait(false);
        try
        {
            return JsonNode.Parse(line) as JsonObject ?? throw Protocol("a message is not a JSON object");
        }
        catch (JsonException e)
        {
            throw Protocol($"a message is not valid JSON ({e.Message})");
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken ct)
    {
        _line.SetLength(0);
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                try
                {
                    _end = await _stream.ReadAsync(_buffer, ct).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    throw new PowerException(PowerErrorKind.Unreachable, $"QMP socket {_path}: {e.Message}", e);
                }

                if (_end == 0)
                {
                    // quit closes the socket right after its answer; anything else cut short is a protocol error.
                    throw new PowerException(PowerErrorKind.Unreachable, $"QMP socket {_path} closed mid-message.");
                }
            }

            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            var take = (newline < 0 ? _end : newline) - _start;
            if (_line.Length + take > _maxLine)
            {
                throw Protocol($"a line exceeds the {_maxLine}-byte limit");
            }

            _line.Write(_buffer, _start, take);
            _start += take;
            if (newline >= 0)
            {
                _start++;
                return Encoding.UTF8.GetString(_line.GetBuffer(), 0, (int)_line.Length);
            }
        }
    }

    private PowerException Protocol(string what) => new(PowerErrorKind.Protocol, $"unexpected QMP reply from {_path}: {what}.");
}
