"""The global subset-rate game by Monte Carlo: antithetic permutation pairs, post-stratified by position."""
from __future__ import annotations

import numpy as np

from ._jit import kernel, prange
from .rng import random_permutation


@kernel("void(float64[::1], float64[::1], int32[::1], boolean, float64[::1])")
def _add_prefix_marginals(k_at, n_at, perm, reverse, out):
    """Add half of each player's marginal v(prefix ∪ i) − v(prefix) along ``perm`` (or its reverse),
    v at a prefix being the cumulative K over the cumulative N of the sets completed so far."""
    n = perm.shape[0]
    ck = 0.0
    cn = 0.0
    prev = 0.0
    for r in range(n):
        ck += k_at[r]
        cn += n_at[r]
        cur = ck / cn if cn > 0.0 else 0.0
        player = perm[n - 1 - r] if reverse else perm[r]
        out[player] += 0.5 * (cur - prev)
        prev = cur


@kernel("void(int64[::1], int32[::1], float64[::1], float64[::1], int32[::1], float64[::1])")
def _marginals_pair(set_off, set_codes, k_of_set, n_of_set, perm, out):
    """Mean marginal vector of permutation ``perm`` and its reverse (an antithetic pair).

    A set T joins the coalition when its last member arrives: at position max rank(T) in ``perm``
    and n−1−min rank(T) in the reverse. K and N are bucketed by that position and summed along the
    order, giving v at every prefix in O(Σ|T| + n).
    """
    n = perm.shape[0]
    rank = np.empty(n, dtype=np.int64)
    for r in range(n):
        rank[perm[r]] = r
    k_fwd = np.zeros(n, dtype=np.float64)
    n_fwd = np.zeros(n, dtype=np.float64)
    k_rev = np.zeros(n, dtype=np.float64)
    n_rev = np.zeros(n, dtype=np.float64)
    for t in range(set_off.shape[0] - 1):
        lo = n
        hi = -1
        for q in range(set_off[t], set_off[t + 1]):
            r = rank[set_codes[q]]
            if r < lo:
                lo = r
            if r > hi:
                hi = r
        k_fwd[hi] += k_of_set[t]
        n_fwd[hi] += n_of_set[t]
        k_rev[n - 1 - lo] += k_of_set[t]
        n_rev[n - 1 - lo] += n_of_set[t]
    for i in range(n):
        out[i] = 0.0
    _add_prefix_marginals(k_fwd, n_fwd, perm, False, out)
    _add_prefix_marginals(k_rev, n_rev, perm, True, out)


@kernel("Tuple((float64[:, ::1], int32[:, ::1]))(int64[::1], int32[::1], float64[::1], float64[::1], int64, uint64, "
        "int64, int64)", parallel=True)
def _mc_pairs(set_off, set_codes, k_of_set, n_of_set, n, seed, first_pair, n_pairs):
    """Pair means for antithetic pairs first_pair … first_pair+n_pairs−1 (one row each), and each
    player's position stratum in the pair: min(k, n−1−k) for position k in the forward permutation.

    Pair k uses permutation k = f(seed, k) from the counter-based generator, so a row does not
    depend on which thread computed it.
    """
    out = np.empty((n_pairs, n), dtype=np.float64)
    strata = np.empty((n_pairs, n), dtype=np.int32)
    for j in prange(n_pairs):
        perm = np.empty(n, dtype=np.int32)
        random_permutation(seed, np.uint64(first_pair + j), perm)
        _marginals_pair(set_off, set_codes, k_of_set, n_of_set, perm, out[j])
        for r in range(n):
            strata[j, perm[r]] = min(r, n - 1 - r)
    return out, strata


@kernel("void(float64[:, ::1], int32[:, ::1], float64[:, ::1], float64[:, ::1], float64[:, ::1])")
def _accumulate_strata(rows, strata, total, total_sq, count):
    """Add a batch of pair means into per (player, stratum) sums, in pair order (serial, reproducible)."""
    for j in range(rows.shape[0]):
        for i in range(rows.shape[1]):
            s = strata[j, i]
            x = rows[j, i]
            total[i, s] += x
            total_sq[i, s] += x * x
            count[i, s] += 1.0
