"""Kernels of the per-journey Shapley games (count, ordered, rate) over distinct channel sets."""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import kernel
from .journeys import _sequence_hash


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
        out[a:c].sort()
        out_off[p + 1] = c
    return out_off, out[:c].copy()


@kernel("Tuple((int64[::1], uint64[::1]))(int64[::1], int32[::1])")
def _set_hash_table(set_off, set_codes):
    """Open-addressing table of the distinct sets: slot -> set id (-1 empty), slot -> hash."""
    n = set_off.shape[0] - 1
    size = 1
    while size < 2 * n + 2:
        size *= 2
    slot_id = np.full(size, -1, dtype=np.int64)
    slot_hash = np.zeros(size, dtype=np.uint64)
    mask = size - 1
    for s in range(n):
        h = _sequence_hash(set_codes, set_off[s], set_off[s + 1])
        pos = np.int64(h & np.uint64(mask))
        while slot_id[pos] != -1:
            pos = (pos + 1) & mask
        slot_id[pos] = s
        slot_hash[pos] = h
    return slot_id, slot_hash


@kernel
def _lookup(buf, length, set_off, set_codes, slot_id, slot_hash):
    """Id of the set equal to buf[:length] (sorted codes), or -1."""
    h = _sequence_hash(buf, 0, length)
    mask = slot_id.shape[0] - 1
    pos = np.int64(h & np.uint64(mask))
    while True:
        s = slot_id[pos]
        if s == -1:
            return -1
        if slot_hash[pos] == h and set_off[s + 1] - set_off[s] == length:
            a = set_off[s]
            same = True
            for q in range(length):
                if set_codes[a + q] != buf[q]:
                    same = False
                    break
            if same:
                return s
        pos = (pos + 1) & mask


@kernel
def _w_in_out(t, m):
    """Shapley weights of a dividend set T (|T| = t) in a game of m players:
    w_in = (t-1)!(m-t)!/m! for members, w_out = t!(m-t-1)!/m! for non-members (0 when t == m)."""
    lm = math.lgamma(m + 1.0)
    w_in = math.exp(math.lgamma(t) + math.lgamma(m - t + 1.0) - lm)
    w_out = 0.0
    if t < m:
        w_out = math.exp(math.lgamma(t + 1.0) + math.lgamma(m - t) - lm)
    return w_in, w_out


@kernel("float64[::1](int64[::1], int32[::1], float64[::1], int64, int64)", parallel=True)
def _rate_shapley(set_off, set_codes, v, n_channels, max_enumerate_bits):
    """φ of the per-journey rate game for every distinct set S (CSR aligned with set_codes).

    v(T) = K(T)/N(T) on observed sets, 0 elsewhere; by the decomposition of MODELS.md,
    φ_i = Σ_{T⊆S observed} v(T)·(w_in + w_out)·[i∈T] − Σ_{T⊆S} v(T)·w_out. Observed subsets are found
    by enumerating the 2^m subsets against a hash of the observed sets when m is small, otherwise by
    testing every observed set for inclusion — exact for any m.
    """
    n_sets = set_off.shape[0] - 1
    slot_id, slot_hash = _set_hash_table(set_off, set_codes)
    phi = np.zeros(set_codes.shape[0], dtype=np.float64)
    for s in prange(n_sets):
        a = set_off[s]
        m = set_off[s + 1] - a
        offset_in = 0.0
        if m <= max_enumerate_bits:
            buf = np.empty(m, dtype=np.int32)
            for sub in range(1, 1 << m):
                t = 0
                for q in range(m):
                    if sub & (1 << q):
                        buf[t] = set_codes[a + q]
                        t += 1
                u = _lookup(buf, t, set_off, set_codes, slot_id, slot_hash)
                if u == -1 or v[u] == 0.0:
                    continue
                w_in, w_out = _w_in_out(t, m)
                offset_in += v[u] * w_out
                for q in range(m):
                    if sub & (1 << q):
                        phi[a + q] += v[u] * (w_in + w_out)
        else:
            member = np.full(n_channels, -1, dtype=np.int64)
            for q in range(m):
                member[set_codes[a + q]] = q
            for u in range(n_sets):
                if v[u] == 0.0:
                    continue
                b = set_off[u]
                t = set_off[u + 1] - b
                if t > m:
                    continue
                inside = True
                for q in range(b, b + t):
                    if member[set_codes[q]] < 0:
                        inside = False
                        break
                if not inside:
                    continue
                w_in, w_out = _w_in_out(t, m)
                offset_in += v[u] * w_out
                for q in range(b, b + t):
                    phi[a + member[set_codes[q]]] += v[u] * (w_in + w_out)
        for q in range(m):
            phi[a + q] -= offset_in
    return phi


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


@kernel("Tuple((float64[:, ::1], float64[:, :, ::1]))(int64[::1], int32[::1], float64[:, ::1], int64, int64)")
def _ordered_credit(offsets, codes, weights, n_channels, max_len):
    """Ordered Shapley (Zhao et al. 2018): x/|C| per distinct channel, spread equally over its
    occurrences; returns (credit (n_channels, k), credit by position (n_channels, max_len, k))."""
    k = weights.shape[1]
    credit = np.zeros((n_channels, k), dtype=np.float64)
    by_pos = np.zeros((n_channels, max_len, k), dtype=np.float64)
    count = np.zeros(n_channels, dtype=np.int64)
    for p in range(offsets.shape[0] - 1):
        a = offsets[p]
        b = offsets[p + 1]
        distinct = 0
        for q in range(a, b):
            if count[codes[q]] == 0:
                distinct += 1
            count[codes[q]] += 1
        for q in range(a, b):
            c = codes[q]
            for j in range(k):
                part = weights[p, j] / distinct / count[c]
                credit[c, j] += part
                by_pos[c, q - a, j] += part
        for q in range(a, b):
            count[codes[q]] = 0
    return credit, by_pos
