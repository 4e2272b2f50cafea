"""Counter-based randomness: every random number is a pure function of (seed, stream, counter).

Numba keeps one RNG state per thread and ``np.random.seed`` from Python does not reach it, so results
drawn from it depend on the thread count. Here sample ``k`` is derived from ``(seed, k)`` alone with the
SplitMix64 finaliser (Steele, Lea & Flood 2014), so any thread computing sample ``k`` gets the same
numbers and outputs are bit-identical for any ``NUMBA_NUM_THREADS``.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel
from .mix import mix64

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@kernel("uint64(uint64, uint64, uint64)")
def random_bits(seed, stream, counter):
    """64 random bits for (seed, stream, counter)."""
    h = mix64(seed * _GOLDEN + np.uint64(0x632BE59BD9B4E019))
    h = mix64(h ^ (stream * _GOLDEN + np.uint64(0x8CB92BA72F3D8DD7)))
    return mix64(h ^ (counter * _GOLDEN))


@kernel("float64(uint64, uint64, uint64)")
def random_uniform(seed, stream, counter):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return float(random_bits(seed, stream, counter) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@kernel("int64(uint64, uint64, uint64, int64)")
def random_below(seed, stream, counter, bound):
    """An integer uniform on [0, bound) (Lemire's multiply-shift; bias < bound / 2^64)."""
    r = random_bits(seed, stream, counter)
    # high 64 bits of r * bound, computed on 32-bit halves to stay in uint64
    b = np.uint64(bound)
    r_hi = r >> np.uint64(32)
    r_lo = r & np.uint64(0xFFFFFFFF)
    b_hi = b >> np.uint64(32)
    b_lo = b & np.uint64(0xFFFFFFFF)
    lo_lo = r_lo * b_lo
    hi_lo = r_hi * b_lo
    lo_hi = r_lo * b_hi
    hi_hi = r_hi * b_hi
    cross = (lo_lo >> np.uint64(32)) + (hi_lo & np.uint64(0xFFFFFFFF)) + lo_hi
    return np.int64(hi_hi + (hi_lo >> np.uint64(32)) + (cross >> np.uint64(32)))


@kernel("void(uint64, uint64, int32[::1])")
def random_permutation(seed, index, out):
    """Permutation number ``index`` of ``0..len(out)-1`` for ``seed`` (Fisher-Yates on counters).

    Stream ``index`` and counter ``i`` give the i-th swap, so permutation k is a pure function of
    (seed, k): any thread computing it gets the same result.
    """
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    for i in range(n - 1, 0, -1):
        j = random_below(seed, index, np.uint64(i), i + 1)
        t = out[i]
        out[i] = out[j]
        out[j] = t
