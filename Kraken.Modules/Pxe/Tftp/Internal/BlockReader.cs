// Reads a file's content one block at a time, as octets or converted to netascii (RFC 764 end of lines).
using System.Buffers;
using System.Runtime.CompilerServices;

namespace Kraken.Modules.Pxe.Tftp.Internal;

internal sealed class BlockReader : IDisposable
{
    private const int RawBufferSize = 16 * 1024;

    // Octets are read ahead this much at a time: one positional read per 22 blocks of 1428 bytes instead of one
    // per block (pooled, per transfer; blocks this large or larger are read straight into their slot).
    private const int ReadAheadSize = 32 * 1024;
    private const byte Cr = (byte)'\r';
    private const byte Lf = (byte)'\n';

    private readonly Stream _stream;
    private readonly bool _netAscii;

    // Files and memory are read synchronously: a page-cache read is cheaper than a trip through the thread pool.
    private readonly bool _synchronous;
    private byte[]? _raw;
    private int _rawPos;
    private int _rawLen;
    private int _pending = -1;
    private bool _eof;

    public BlockReader(Stream stream, TftpMode mode)
    {
        _stream = stream;
        _netAscii = mode == TftpMode.NetAscii;
        _synchronous = stream is FileStream or MemoryStream or UnmanagedMemoryStream;
        _raw = ArrayPool<byte>.Shared.Rent(_netAscii ? RawBufferSize : ReadAheadSize);
    }

    /// <summary>Fills <paramref name="dest"/> completely unless the content ends first; returns the bytes written.</summary>
    public ValueTask<int> ReadBlockAsync(Memory<byte> dest, CancellationToken cancellationToken) =>
        _netAscii ? ReadNetAsciiAsync(dest, cancellationToken) : ReadFullAsync(dest, cancellationToken);

    public void Dispose()
    {
        if (_raw is { } raw)
        {
            _raw = null;
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadFullAsync(Memory<byte> dest, CancellationToken cancellationToken)
    {
        var n = 0;
        while (n < dest.Length)
        {
            if (_rawPos < _rawLen)
            {
                var take = Math.Min(_rawLen - _rawPos, dest.Length - n);
                _raw.AsSpan(_rawPos, take).CopyTo(dest.Span[n..]);
                _rawPos += take;
                n += take;
                continue;
            }

            if (_eof)
            {
                break;
            }

            if (dest.Length - n < _raw!.Length)
            {
                _rawLen = _synchronous ? _stream.Read(_raw) : await _stream.ReadAsync(_raw, cancellationToken).ConfigureAwait(false);
                _rawPos = 0;
                _eof = _rawLen == 0;
                continue;
            }

            var r = _synchronous ? _stream.Read(dest.Span[n..]) : await _stream.ReadAsync(dest[n..], cancellationToken).ConfigureAwait(false);
            if (r == 0)
            {
                break;
            }

            n += r;
        }

        return n;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadNetAsciiAsync(Memory<byte> dest, CancellationToken cancellationToken)
    {
        var n = 0;
        while (n < dest.Length)
        {
            if (_pending < 0 && _rawPos == _rawLen)
            {
                if (_eof)
                {
                    break;
                }

                _rawLen = _synchronous ? _stream.Read(_raw!) : await _stream.ReadAsync(_raw!, cancellationToken).ConfigureAwait(false);
                _rawPos = 0;
                if (_rawLen == 0)
                {
                    _eof = true;
                    break;
                }
            }

            n = Convert(dest.Span, n);
        }

        return n;
    }

    // LF -> CR LF, CR -> CR NUL; the second byte of a pair that does not fit waits for the next block.
    private int Convert(Span<byte> dest, int n)
    {
        if (_pending >= 0 && n < dest.Length)
        {
            dest[n++] = (byte)_pending;
            _pending = -1;
        }

        var raw = _raw!;
        while (n < dest.Length && _rawPos < _rawLen)
        {
            var b = raw[_rawPos++];
            if (b is Lf or Cr)
            {
                dest[n++] = Cr;
                var second = b == Lf ? Lf : (byte)0;
                if (n < dest.Length)
                {
                    dest[n++] = second;
                }
                else
                {
                    _pending = second;
                }
            }
            else
            {
                dest[n++] = b;
            }
        }

        return n;
    }
}
