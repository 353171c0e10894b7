// Sliding anti-replay window over a sender's sequence numbers (the IPsec scheme, RFC 4303 section 3.4.3).
namespace Kraken.Net.Sync;

/// <summary>
/// Accepts each sequence number at most once, and none that fell more than <see cref="Size"/> behind the
/// highest accepted. Sequence 0 is never valid. Check with <see cref="IsFresh"/> after the MAC verified, then
/// <see cref="Accept"/>: a forged frame must not move the window.
/// </summary>
public sealed class ReplayWindow
{
    /// <summary>How far behind the highest sequence a late frame may still arrive.</summary>
    public const int Size = 1024;

    private readonly ulong[] _bits = new ulong[Size / 64];
    private ulong _highest;

    public ulong Highest => _highest;

    /// <summary>
    /// The whole 64-bit sequence number of a frame that carried only its low 32 bits (a compact hello), guessed
    /// from the window as IPsec does for extended sequence numbers (RFC 4303 appendix A2.2): a number within
    /// the window or ahead of it is placed in the 2^32 block that keeps it closest to <see cref="Highest"/>.
    /// The guess is not trusted: the MAC is computed over all 64 bits, so a wrong guess (more than 2^32 - 1024
    /// frames lost, or a forgery) fails verification. Returns 0, never valid, when the guess would fall below
    /// zero (the low bits lie behind the window of the very first block).
    /// </summary>
    public ulong Reconstruct(uint low)
    {
        const ulong block = 1UL << 32;
        var tl = (uint)_highest;
        var th = _highest >> 32;
        var bottom = unchecked(tl - (uint)Size + 1);    // low bits of the window's oldest slot (mod 2^32)
        ulong high;
        if (tl >= Size - 1)
        {
            // Case A: the window lies inside one block. Below its bottom is the next block.
            high = low >= bottom ? th : th + 1;
        }
        else
        {
            // Case B: the window straddles the start of block th. At or above its bottom is the previous block.
            if (low >= bottom)
            {
                if (th == 0)
                {
                    return 0;
                }

                high = th - 1;
            }
            else
            {
                high = th;
            }
        }

        return unchecked((high * block) + low);
    }

    public bool IsFresh(ulong sequence)
    {
        if (sequence == 0)
        {
            return false;
        }

        if (sequence > _highest)
        {
            return true;
        }

        if (_highest - sequence >= Size)
        {
            return false;
        }

        var bit = sequence % Size;
        return (_bits[bit / 64] & (1UL << (int)(bit % 64))) == 0;
    }

    /// <summary>Marks <paramref name="sequence"/> seen; returns false (and changes nothing) if it was not fresh.</summary>
    public bool Accept(ulong sequence)
    {
        if (!IsFresh(sequence))
        {
            return false;
        }

        if (sequence > _highest)
        {
            // Clear the slots the window slides over.
            var advance = sequence - _highest;
            if (advance >= Size)
            {
                Array.Clear(_bits);
            }
            else
            {
                for (var s = _highest + 1; s <= sequence; s++)
                {
                    var b = s % Size;
                    _bits[b / 64] &= ~(1UL << (int)(b % 64));
                }
            }

            _highest = sequence;
        }

        var bit = sequence % Size;
        _bits[bit / 64] |= 1UL << (int)(bit % 64);
        return true;
    }
}
