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
