"""Markov chain construction: k-gram states and transition counts from a CSR path table."""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel("int64[::1](int64[::1], int32[::1], int64, int64)")
def _kgram_keys(offsets, codes, order, base):
    """Key of the state at every touch: the last ``order`` channels (fewer at the path's start),
    packed as Σ (code+1)·base^l, so that different k-grams get different keys."""
    keys = np.empty(codes.shape[0], dtype=np.int64)
    for p in range(offsets.shape[0] - 1):
        a = offsets[p]
        for q in range(a, offsets[p + 1]):
            key = 0
            mult = 1
            for l in range(order):
                if q - l < a:
                    break
                key += (codes[q - l] + 1) * mult
                mult *= base
            keys[q] = key
    return keys


@kernel("Tuple((int64[::1], int64[::1], float64[::1]))(int64[::1], int64[::1], float64[::1], float64[::1], int64)")
def _transitions(offsets, state, conversions, nulls, n_states):
    """Transitions as (from, to, weight) triplets: (start) → s_1 → … → s_m → (conversion)/(null).

    State ids: 0 = (start), 1..n_states = channel states (state[q] + 1), n_states+1 = (conversion),
    n_states+2 = (null). Weights are journeys: conversions + nulls on every inner step.
    """
    n_paths = offsets.shape[0] - 1
    cap = offsets[n_paths] + 2 * n_paths
    src = np.empty(cap, dtype=np.int64)
    dst = np.empty(cap, dtype=np.int64)
    w = np.empty(cap, dtype=np.float64)
    conv_id = n_states + 1
    null_id = n_states + 2
    c = 0
    for p in range(n_paths):
        total = conversions[p] + nulls[p]
        a = offsets[p]
        b = offsets[p + 1]
        if total <= 0.0 or b == a:
            continue
        prev = 0
        for q in range(a, b):
            cur = state[q] + 1
            src[c] = prev
            dst[c] = cur
            w[c] = total
            c += 1
            prev = cur
        if conversions[p] > 0.0:
            src[c] = prev
            dst[c] = conv_id
            w[c] = conversions[p]
            c += 1
        if nulls[p] > 0.0:
            src[c] = prev
            dst[c] = null_id
            w[c] = nulls[p]
            c += 1
    return src[:c].copy(), dst[:c].copy(), w[:c].copy()
