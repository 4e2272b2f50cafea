"""The per-journey rate game beyond 20 channels: a trie of the converting sets walked inside each set."""
from __future__ import annotations

import numpy as np

from ._jit import kernel, prange
from .mix import mix64
from .shapley_weights import _w_in_out


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
