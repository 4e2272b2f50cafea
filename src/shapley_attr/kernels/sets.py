"""Distinct channel sets of paths (the coalitions of the per-journey and global Shapley games)."""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel("Tuple((int64[::1], int32[::1]))(int64[::1], int32[::1], int64)")
def _distinct_sorted(offsets, codes, n_channels):
    """Each path's distinct channels, sorted, as a CSR table (the player set C_j of the path)."""
    n = offsets.shape[0] - 1
    seen = np.full(n_channels, -1, dtype=np.int64)
    out_off = np.zeros(n + 1, dtype=np.int64)
    out = np.empty(codes.shape[0], dtype=np.int32)
    c = 0
    for p in range(n):
        a = c
        for q in range(offsets[p], offsets[p + 1]):
            ch = codes[q]
            if seen[ch] != p:
                seen[ch] = p
                out[c] = ch
                c += 1
        if c - a <= 24:  # insertion sort: paths are short, and a slice sort call costs more than it sorts
            for i in range(a + 1, c):
                v = out[i]
                j = i - 1
                while j >= a and out[j] > v:
                    out[j + 1] = out[j]
                    j -= 1
                out[j + 1] = v
        else:
            out[a:c].sort()
        out_off[p + 1] = c
    return out_off, out[:c].copy()
