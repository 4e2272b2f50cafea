"""Ordering events by user and time: a parallel radix sort on the user hash that gathers the rows."""
from __future__ import annotations

import numba
import numpy as np

from numba import types

from ._jit import kernel


def _ro(dtype):
    """A read-only contiguous 1-D array type: Polars hands columns over as read-only views, and a
    writable array converts to it too, so one compiled version serves both (loaded at import)."""
    return types.Array(dtype, 1, "C", readonly=True)


def _out(dtype):
    return types.Array(dtype, 1, "C")


_ORDER_SIGNATURES = [types.Tuple((_out(types.boolean), types.boolean, _out(types.int64), _out(types.boolean),
                                   _out(types.int32), _out(types.float64)))(
    _ro(types.uint64), _ro(types.uint64), _ro(types.int64), _ro(types.boolean), _ro(types.int32), _ro(types.int32),
    _ro(types.float64), _out(types.int32))]


N_PARTS = 16
"""Fixed number of row ranges the parallel passes split the rows into. Results do not depend on it
(the radix sort is stable and users never straddle two ranges of the last pass), nor on the thread
count."""


@kernel(_ORDER_SIGNATURES, parallel=True)
def _user_time_order(h, h2, t, is_conv, code, remap, gmv, perm):
    """Fill ``perm`` (int32, length n) with the permutation ordering rows by ``h`` (a 64-bit hash of
    the user id), then time ``t`` with a touch before a conversion at the same instant (key
    ``2·t + is_conv``), then input order. Returns the flags of each user's first row (in that order),
    whether ``h2`` (an independent hash) ever disagrees within a run of equal ``h`` (a collision: the
    caller then orders by the ids themselves and gathers in NumPy), and the rows' ``t, is_conv,
    remap[code] (-1 kept), gmv`` in that order, gathered in the same pass that settles each user's
    rows (without reading the rows a second time).

    A stable LSD radix sort on the high 32 bits of ``h`` (three passes of 11, 11 and 10 bits; the
    32-bit digits move with the index; each pass counts and scatters N_PARTS row ranges in parallel),
    then rows whose high bits tie but whose ``h`` differs are put in ``h`` order, and each user's
    rows not already in key order are sorted stably (insertion sort for short runs, merge sort
    beyond), users in parallel. Linear time; 16 bytes of scratch a row during the radix passes
    (int32 perm), 12 after.
    """
    n = h.shape[0]
    parts = N_PARTS
    bounds = np.empty(parts + 1, dtype=np.int64)
    for c in range(parts + 1):
        bounds[c] = n * c // parts
    hs = np.empty(n, dtype=np.uint32)
    for c in numba.prange(parts):
        for i in range(bounds[c], bounds[c + 1]):
            perm[i] = i
            hs[i] = np.uint32(h[i] >> np.uint64(32))
    perm_b = np.empty_like(perm)
    hs_b = np.empty(n, dtype=np.uint32)
    counts = np.empty((parts, 2048), dtype=np.int64)
    for shift in (0, 11, 22):
        sh = np.uint32(shift)
        for c in numba.prange(parts):
            counts[c, :] = 0
            for i in range(bounds[c], bounds[c + 1]):
                counts[c, np.int64((hs[i] >> sh) & np.uint32(2047))] += 1
        # start of (digit d, range c): all smaller digits, then digit d of the earlier ranges
        total = 0
        for d in range(2048):
            for c in range(parts):
                k = counts[c, d]
                counts[c, d] = total
                total += k
        for c in numba.prange(parts):
            for i in range(bounds[c], bounds[c + 1]):
                d = np.int64((hs[i] >> sh) & np.uint32(2047))
                q = counts[c, d]
                counts[c, d] = q + 1
                perm_b[q] = perm[i]
                hs_b[q] = hs[i]
        perm, perm_b = perm_b, perm
        hs, hs_b = hs_b, hs
    # three passes swap an odd number of times: the sorted order is in the scratch buffer
    for c in numba.prange(parts):
        for i in range(bounds[c], bounds[c + 1]):
            perm_b[i] = perm[i]
    perm = perm_b
    hs = np.empty(0, dtype=np.uint32)  # release the radix scratch before the next allocation
    hs_b = hs
    # the full hash in sorted order (one random read a row; later passes read it sequentially)
    hf = np.empty(n, dtype=np.uint64)
    for c in numba.prange(parts):
        for q in range(bounds[c], bounds[c + 1]):
            hf[q] = h[perm[q]]
    # runs of equal high bits with different full hashes: order by the whole hash (stable), rare
    i = 0
    while i < n:
        j = i + 1
        while j < n and (hf[j] >> np.uint64(32)) == (hf[i] >> np.uint64(32)):
            j += 1
        mixed = False
        for q in range(i + 1, j):
            if hf[q] != hf[i]:
                mixed = True
                break
        if mixed:
            for q in range(i + 1, j):
                v = perm[q]
                hv = hf[q]
                s = q - 1
                while s >= i and hf[s] > hv:
                    perm[s + 1] = perm[s]
                    hf[s + 1] = hf[s]
                    s -= 1
                perm[s + 1] = v
                hf[s + 1] = hv
        i = j
    # user ranges: move each range start forward to the first row of a user
    starts = bounds.copy()
    for c in range(1, parts):
        q = max(starts[c], starts[c - 1])
        while q < n and q > 0 and hf[q] == hf[q - 1]:
            q += 1
        starts[c] = q
    new_user = np.zeros(n, dtype=np.bool_)
    collided = np.zeros(parts, dtype=np.bool_)
    t_out = np.empty(n, dtype=np.int64)
    c_out = np.empty(n, dtype=np.bool_)
    k_out = np.empty(n, dtype=np.int32)
    g_out = np.empty(n, dtype=np.float64)
    for c in numba.prange(parts):
        a = starts[c]
        end = starts[c + 1]
        while a < end:
            ha = hf[a]
            first2 = h2[perm[a]]
            prev_key = t[perm[a]] * 2 + np.int64(is_conv[perm[a]])
            ordered = True
            b = a + 1
            while b < end:
                if hf[b] != ha:
                    break
                r = perm[b]
                if h2[r] != first2:
                    collided[c] = True
                k = t[r] * 2 + np.int64(is_conv[r])
                if k < prev_key:
                    ordered = False
                prev_key = k
                b += 1
            new_user[a] = True
            if not ordered:
                if b - a <= 32:
                    for q in range(a + 1, b):
                        v = perm[q]
                        kv = t[v] * 2 + np.int64(is_conv[v])
                        s = q - 1
                        while s >= a and t[perm[s]] * 2 + np.int64(is_conv[perm[s]]) > kv:
                            perm[s + 1] = perm[s]
                            s -= 1
                        perm[s + 1] = v
                else:
                    seg = perm[a:b].copy()
                    ks = np.empty(b - a, dtype=np.int64)
                    for q in range(b - a):
                        ks[q] = t[seg[q]] * 2 + np.int64(is_conv[seg[q]])
                    o = np.argsort(ks, kind="mergesort")
                    for q in range(b - a):
                        perm[a + q] = seg[o[q]]
            for q in range(a, b):
                r = perm[q]
                t_out[q] = t[r]
                c_out[q] = is_conv[r]
                k = code[r]
                k_out[q] = remap[k] if k >= 0 else np.int32(-1)
                g_out[q] = gmv[r]
            a = b
    return new_user, collided.any(), t_out, c_out, k_out, g_out
