"""Credits from per-set shares: each path's weights split over its distinct channels."""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel("Tuple((float64[:, ::1], float64[::1]))(int64[::1], int32[::1], int64[::1], int32[::1], int64[::1], "
        "float64[::1], float64[:, ::1], int64)")
def _credit_by_shares(offsets, codes, set_off, set_codes, path_set, shares, weights, n_channels):
    """Split each path's weights over its set by ``shares``; a set whose shares sum to 0 → last touch.

    Returns (credit (n_channels, k), fallback (k,) = weights that went to the last touch).
    """
    k = weights.shape[1]
    credit = np.zeros((n_channels, k), dtype=np.float64)
    fallback = np.zeros(k, dtype=np.float64)
    for p in range(offsets.shape[0] - 1):
        s = path_set[p]
        a = set_off[s]
        b = set_off[s + 1]
        total = 0.0
        for q in range(a, b):
            total += shares[q]
        if total > 0.0:
            for q in range(a, b):
                for j in range(k):
                    credit[set_codes[q], j] += weights[p, j] * (shares[q] / total)
        else:
            last = codes[offsets[p + 1] - 1]
            for j in range(k):
                credit[last, j] += weights[p, j]
                fallback[j] += weights[p, j]
    return credit, fallback
