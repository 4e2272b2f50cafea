"""The global subset-rate game, exact: subset sums by zeta transform, O(n·2^n)."""
from __future__ import annotations

import math

import numpy as np

from ._jit import kernel, prange


@kernel("float64[::1](int64[::1], float64[::1], float64[::1], int64)", parallel=True)
def _subset_rate_exact(set_masks, k_of_set, n_of_set, n):
    """Exact Shapley values of v(S) = Σ_{T⊆S} K(T) / Σ_{T⊆S} N(T) over n ≤ 24 players.

    Subset sums by the zeta transform (O(n·2^n)), then φ_i = Σ_{S∌i} w(|S|)(v(S∪i) − v(S)) with
    w(s) = s!(n−s−1)!/n!, one player per thread; each φ_i is summed over masks in a fixed order.
    """
    size = 1 << n
    kk = np.zeros(size, dtype=np.float64)
    nn = np.zeros(size, dtype=np.float64)
    for t in range(set_masks.shape[0]):
        kk[set_masks[t]] += k_of_set[t]
        nn[set_masks[t]] += n_of_set[t]
    for i in range(n):
        bit = 1 << i
        for mask in range(size):
            if mask & bit:
                kk[mask] += kk[mask ^ bit]
                nn[mask] += nn[mask ^ bit]
    v = np.zeros(size, dtype=np.float64)
    for mask in range(size):
        if nn[mask] > 0.0:
            v[mask] = kk[mask] / nn[mask]
    w = np.empty(n, dtype=np.float64)
    ln = math.lgamma(n + 1.0)
    for s in range(n):
        w[s] = math.exp(math.lgamma(s + 1.0) + math.lgamma(n - s + 0.0) - ln)
    phi = np.zeros(n, dtype=np.float64)
    for i in prange(n):
        bit = 1 << i
        acc = 0.0
        for mask in range(size):
            if mask & bit:
                continue
            s = 0
            x = mask
            while x:
                x &= x - 1
                s += 1
            acc += w[s] * (v[mask | bit] - v[mask])
        phi[i] = acc
    return phi
