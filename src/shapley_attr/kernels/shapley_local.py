"""Kernels of the per-journey Shapley games (count, ordered, rate) over distinct channel sets."""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import kernel
from .rng import mix64


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


@kernel("Tuple((int64[::1], int64[::1], int64[::1]))(int64[::1], int32[::1], int64)")
def _build_trie(set_off, set_codes, n_channels):
    """A trie of the observed sets (sorted codes): edge (node, code) → child in an open-addressing
    table keyed by node·n_channels + code; ``terminal[node]`` is the id of the set ending there or -1."""
    n_sets = set_off.shape[0] - 1
    max_nodes = set_codes.shape[0] + 1
    size = 1
    while size < 2 * max_nodes + 2:
        size *= 2
    slot_key = np.full(size, -1, dtype=np.int64)
    slot_child = np.empty(size, dtype=np.int64)
    terminal = np.full(max_nodes, -1, dtype=np.int64)
    mask = size - 1
    n_nodes = 1
    for s in range(n_sets):
        u = 0
        for q in range(set_off[s], set_off[s + 1]):
            key = u * n_channels + set_codes[q]
            pos = np.int64(mix64(np.uint64(key)) & np.uint64(mask))
            while slot_key[pos] != -1 and slot_key[pos] != key:
                pos = (pos + 1) & mask
            if slot_key[pos] == -1:
                slot_key[pos] = key
                slot_child[pos] = n_nodes
                n_nodes += 1
            u = slot_child[pos]
        terminal[u] = s
    return slot_key, slot_child, terminal[:n_nodes].copy()


@kernel("Tuple((int64[::1], int32[::1], int64[::1]))(int64[::1], int64[::1], int64, int64)")
def _trie_children(slot_key, slot_child, n_nodes, n_channels):
    """Children of every trie node as CSR: (child_off, child_code, child_node)."""
    count = np.zeros(n_nodes + 1, dtype=np.int64)
    for pos in range(slot_key.shape[0]):
        k = slot_key[pos]
        if k != -1:
            count[k // n_channels + 1] += 1
    for u in range(n_nodes):
        count[u + 1] += count[u]
    fill = count[:-1].copy()
    codes = np.empty(count[n_nodes], dtype=np.int32)
    nodes = np.empty(count[n_nodes], dtype=np.int64)
    for pos in range(slot_key.shape[0]):
        k = slot_key[pos]
        if k != -1:
            u = k // n_channels
            codes[fill[u]] = k - u * n_channels
            nodes[fill[u]] = slot_child[pos]
            fill[u] += 1
    return count, codes, nodes


@kernel
def _child(slot_key, slot_child, key):
    mask = slot_key.shape[0] - 1
    pos = np.int64(mix64(np.uint64(key)) & np.uint64(mask))
    while True:
        k = slot_key[pos]
        if k == key:
            return slot_child[pos]
        if k == -1:
            return -1
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


@kernel("float64[::1](int64[::1], int32[::1], int64[::1], int32[::1], float64[::1], int64)", parallel=True)
def _rate_shapley(q_off, q_codes, t_off, t_codes, t_v, n_channels):
    """φ of the per-journey rate game for every query set S (CSR ``q_off``/``q_codes``, sorted codes).

    v(T) = K(T)/N(T) on observed sets, 0 elsewhere; by the decomposition of MODELS.md,
    φ_i = Σ_{T⊆S observed} v(T)·(w_in + w_out)·[i∈T] − Σ_{T⊆S} v(T)·w_out. Only sets with v(T) > 0
    matter, so the trie holds just those (``t_off``/``t_codes``/``t_v``); the subsets of S among them
    are found by a depth-first walk that only follows codes of S: the work is proportional to the
    converting prefixes inside S, never to 2^|S|: exact for any |S|.
    """
    set_off = q_off
    set_codes = q_codes
    v = t_v
    n_sets = set_off.shape[0] - 1
    slot_key, slot_child, terminal = _build_trie(t_off, t_codes, n_channels)
    child_off, child_code, child_node = _trie_children(slot_key, slot_child, terminal.shape[0], n_channels)
    phi = np.zeros(set_codes.shape[0], dtype=np.float64)
    for s in prange(n_sets):
        a = set_off[s]
        m = set_off[s + 1] - a
        member = np.full(n_channels, -1, dtype=np.int64)  # position of a code in S, -1 if absent
        for q in range(m):
            member[set_codes[a + q]] = q
        # weights by dividend size t: w_both[t] = w_in + w_out, w_out[t] (see _w_in_out)
        w_both = np.empty(m + 1, dtype=np.float64)
        w_out = np.empty(m + 1, dtype=np.float64)
        for t in range(1, m + 1):
            wi, wo = _w_in_out(t, m)
            w_both[t] = wi + wo
            w_out[t] = wo
        # depth-first walk over trie nodes inside S; a frame is (node, cursor): the cursor runs over the
        # node's children when it has fewer children than S has members left, else over S's members
        node = np.empty(m + 1, dtype=np.int64)
        cur = np.empty(m + 1, dtype=np.int64)
        by_child = np.empty(m + 1, dtype=np.bool_)
        chosen = np.empty(m + 1, dtype=np.int64)
        last_pos = np.empty(m + 1, dtype=np.int64)
        node[0] = 0
        last_pos[0] = -1
        by_child[0] = child_off[1] - child_off[0] <= m
        cur[0] = child_off[0] if by_child[0] else 0
        depth = 0
        offset_in = 0.0
        while depth >= 0:
            u = node[depth]
            child = -1
            k = -1
            if by_child[depth]:
                if cur[depth] >= child_off[u + 1]:
                    depth -= 1
                    continue
                e = cur[depth]
                cur[depth] = e + 1
                k = member[child_code[e]]
                if k < 0:
                    continue
                child = child_node[e]
            else:
                k = cur[depth]
                if k >= m:
                    depth -= 1
                    continue
                cur[depth] = k + 1
                if k <= last_pos[depth]:
                    continue
                child = _child(slot_key, slot_child, u * n_channels + set_codes[a + k])
                if child < 0:
                    continue
            chosen[depth] = k
            t_id = terminal[child]
            if t_id >= 0 and v[t_id] != 0.0:
                t = depth + 1
                offset_in += v[t_id] * w_out[t]
                add = v[t_id] * w_both[t]
                for d in range(t):
                    phi[a + chosen[d]] += add
            depth += 1
            node[depth] = child
            last_pos[depth] = k
            n_children = child_off[child + 1] - child_off[child]
            by_child[depth] = n_children <= m - k - 1
            cur[depth] = child_off[child] if by_child[depth] else k + 1
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
