"""The per-journey rate game by ranked zeta transforms over all 2^n coalitions (n <= 20 channels)."""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel
from .shapley_weights import _w_in_out


@kernel("float64[::1](int64[::1], int64[::1], int32[::1], float64[::1], int64)", parallel=True)
def _rate_shapley_dense(set_masks, set_off, set_codes, v, n):
    """The rate game's φ for all distinct sets at once when the channel count n is small (≤ 20).

    With m = |S|: φ_i(S) = P(S) − Q(S∖i), where P(X) = Σ_{T⊆X} v(T)·w_in(|T|, |X|) and
    Q(X) = Σ_{T⊆X} v(T)·(w_in + w_out)(|T|, |X| + 1) (w as in _w_in_out). Both are ranked subset sums:
    one zeta transform per dividend size t, O(n²·2^n) whatever the sets look like.
    """
    size = 1 << n
    p_arr = np.zeros(size, dtype=np.float64)
    q_arr = np.zeros(size, dtype=np.float64)
    rank = np.zeros(size, dtype=np.float64)
    pop = np.zeros(size, dtype=np.int64)
    for mask in range(1, size):
        pop[mask] = pop[mask >> 1] + (mask & 1)
    sizes = set_off[1:] - set_off[:-1]
    # weights by (t, x): w_in(t, x) and c(t, x + 1), tabulated once
    w_in_t = np.zeros((n + 2, n + 2), dtype=np.float64)
    c_next = np.zeros((n + 2, n + 2), dtype=np.float64)
    for x in range(1, n + 1):
        for t in range(1, x + 1):
            wi, _ = _w_in_out(t, x)
            w_in_t[t, x] = wi
            wi2, wo2 = _w_in_out(t, x + 1)
            c_next[t, x] = wi2 + wo2
    for t in range(1, n + 1):
        any_t = False
        for s in range(set_masks.shape[0]):
            if sizes[s] == t and v[s] != 0.0:
                rank[set_masks[s]] = v[s]
                any_t = True
        if not any_t:
            continue
        for i in range(n):
            bit = 1 << i
            for mask in prange(size):
                if mask & bit:
                    rank[mask] += rank[mask ^ bit]
        for mask in prange(size):
            r = rank[mask]
            if r != 0.0:
                x = pop[mask]
                p_arr[mask] += r * w_in_t[t, x]
                q_arr[mask] += r * c_next[t, x]
            rank[mask] = 0.0
    phi = np.empty(set_codes.shape[0], dtype=np.float64)
    for s in prange(set_masks.shape[0]):
        mask = set_masks[s]
        for q in range(set_off[s], set_off[s + 1]):
            phi[q] = p_arr[mask] - q_arr[mask ^ (1 << set_codes[q])]
    return phi
