"""CSR sequences: hash, deduplicate and gather variable-length code sequences (paths, channel sets)."""
from __future__ import annotations

import numpy as np

from ._jit import kernel
from .mix import mix64


@kernel("uint64(int32[::1], int64, int64)")
def _sequence_hash(codes, a, b):
    h = mix64(np.uint64(b - a) + np.uint64(0x51ED27))
    for q in range(a, b):
        h = mix64(h ^ (np.uint64(codes[q]) + np.uint64(0x9E3779B97F4A7C15)))
    return h


@kernel("Tuple((int64[::1], int64[::1]))(int64[::1], int32[::1])")
def _unique_sequences(offsets, codes):
    """Identical code sequences → one id each (open addressing on a 64-bit sequence hash).

    Returns (inverse: id of every sequence, first: index of the first sequence of every id), ids in
    order of first occurrence. Sequences with equal hashes are compared element by element. The
    table grows with the distinct sequences (kept at most half full), not with the number of
    sequences (journeys repeat: 3.6M journeys, 0.5M paths), and a slot holds what a probe reads —
    the hash, the id and where its first sequence lies — so a probe touches one cache line and a
    match one more (the codes compared).
    """
    n = offsets.shape[0] - 1
    size = 1024
    mask = size - 1
    slots = np.full(4 * size, -1, dtype=np.int64)  # per slot: hash bits, id (-1: empty), start, length
    inverse = np.empty(n, dtype=np.int64)
    first = np.empty(max(n, 1), dtype=np.int64)
    n_unique = 0
    for p in range(n):
        a = offsets[p]
        b = offsets[p + 1]
        h = _sequence_hash(codes, a, b)
        hb = np.int64(h)
        pos = np.int64(h & np.uint64(mask))
        while True:
            u = slots[4 * pos + 1]
            if u == -1:
                slots[4 * pos] = hb
                slots[4 * pos + 1] = n_unique
                slots[4 * pos + 2] = a
                slots[4 * pos + 3] = b - a
                first[n_unique] = p
                inverse[p] = n_unique
                n_unique += 1
                if 2 * n_unique > size:  # grow: move every slot by its stored hash
                    old = slots
                    size *= 2
                    mask = size - 1
                    slots = np.full(4 * size, -1, dtype=np.int64)
                    for v in range(old.shape[0] // 4):
                        if old[4 * v + 1] != -1:
                            q = np.int64(np.uint64(old[4 * v]) & np.uint64(mask))
                            while slots[4 * q + 1] != -1:
                                q = (q + 1) & mask
                            for w in range(4):
                                slots[4 * q + w] = old[4 * v + w]
                break
            if slots[4 * pos] == hb and slots[4 * pos + 3] == b - a:
                ra = slots[4 * pos + 2]
                same = True
                for q in range(b - a):
                    if codes[ra + q] != codes[a + q]:
                        same = False
                        break
                if same:
                    inverse[p] = u
                    break
            pos = (pos + 1) & mask
    return inverse, first[:n_unique].copy()


_STEP = np.uint64(0x9E3779B97F4A7C15)
_LENGTH = np.uint64(0x94D049BB133111EB)


@kernel()
def _content_key(codes, a, b):
    """The content key of the sequence ``codes[a:b]`` (see :func:`_sequence_keys`). A helper compiled
    into its callers."""
    total = np.uint64(0)
    power = np.uint64(1)
    for q in range(a, b):
        power = power * _STEP
        total += (np.uint64(codes[q]) + np.uint64(1)) * power
    return mix64(total ^ (np.uint64(b - a) * _LENGTH))


@kernel("uint64[::1](int64[::1], int32[::1])")
def _sequence_keys(offsets, codes):
    """:func:`frames.sequence_keys` compiled, for callers that have the kernels loaded already: the
    same 64-bit content key of every sequence (sum of (code + 1)·STEP^(position + 1) modulo 2^64,
    xor length·constant, SplitMix64 finaliser), one pass instead of NumPy's several."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for p in range(n):
        out[p] = _content_key(codes, offsets[p], offsets[p + 1])
    return out


@kernel("Tuple((int64[::1], int32[::1]))(int64[::1], int32[::1], int64[::1])")
def _gather_sequences(offsets, codes, rows):
    """The sequences ``rows`` of a CSR table as a new CSR table."""
    m = rows.shape[0]
    off = np.zeros(m + 1, dtype=np.int64)
    for i in range(m):
        r = rows[i]
        off[i + 1] = off[i] + offsets[r + 1] - offsets[r]
    out = np.empty(off[m], dtype=np.int32)
    for i in range(m):
        r = rows[i]
        a = offsets[r]
        for q in range(offsets[r + 1] - a):
            out[off[i] + q] = codes[a + q]
    return off, out


@kernel("int64[::1](int64[::1], int64[::1], float64[::1])")
def _sum_units_by_id(inverse, first, value):
    """Per id, the exact sum of ``value`` in integer millionths (``rint(value · 1e6)``)."""
    sums = np.zeros(first.shape[0], dtype=np.int64)
    for p in range(inverse.shape[0]):
        sums[inverse[p]] += np.int64(np.rint(value[p] * 1e6))
    return sums
