"""Per-journey heuristic kernels: each path's weights are split over its touches by a rule."""
from __future__ import annotations

import numpy as np

from ._jit import kernel

FIRST, LAST, LINEAR, POSITION, TIME_DECAY = 0, 1, 2, 3, 4


@kernel("float64[:, ::1](int64[::1], int32[::1], float64[:, ::1], int64, int64, float64, float64, float64, "
        "float64[::1], float64)")
def _heuristic_credit(offsets, codes, weights, n_channels, rule, w_first, w_middle, w_last, ages, half_life_s):
    """Credit (n_channels, k) of a heuristic rule over the paths of a CSR table.

    rule: FIRST, LAST, LINEAR (1/m per touch), POSITION (w_first, w_middle/(m-2) each, w_last; m = 2 →
    w_first/(w_first+w_last), w_last/(w_first+w_last); m = 1 → all), TIME_DECAY (2^(-age/h), normalised).
    """
    k = weights.shape[1]
    credit = np.zeros((n_channels, k), dtype=np.float64)
    n_paths = offsets.shape[0] - 1
    for p in range(n_paths):
        a = offsets[p]
        b = offsets[p + 1]
        m = b - a
        if m == 0:
            continue
        if rule == FIRST:
            for j in range(k):
                credit[codes[a], j] += weights[p, j]
        elif rule == LAST:
            for j in range(k):
                credit[codes[b - 1], j] += weights[p, j]
        elif rule == LINEAR:
            for q in range(a, b):
                for j in range(k):
                    credit[codes[q], j] += weights[p, j] / m
        elif rule == POSITION:
            if m == 1:
                for j in range(k):
                    credit[codes[a], j] += weights[p, j]
            elif m == 2:
                ends = w_first + w_last
                f = w_first / ends if ends > 0 else 0.5
                for j in range(k):
                    credit[codes[a], j] += weights[p, j] * f
                    credit[codes[b - 1], j] += weights[p, j] * (1.0 - f)
            else:
                mid = w_middle / (m - 2)
                for j in range(k):
                    credit[codes[a], j] += weights[p, j] * w_first
                    credit[codes[b - 1], j] += weights[p, j] * w_last
                    for q in range(a + 1, b - 1):
                        credit[codes[q], j] += weights[p, j] * mid
        else:  # TIME_DECAY
            total = 0.0
            for q in range(a, b):
                total += 2.0 ** (-ages[q] / half_life_s)
            for q in range(a, b):
                share = 2.0 ** (-ages[q] / half_life_s) / total
                for j in range(k):
                    credit[codes[q], j] += weights[p, j] * share
    return credit


@kernel("Tuple((int64[::1], int32[::1], float64[::1], int64[::1]))(int64[::1], int32[::1], float64[::1], boolean)")
def _collapse_runs(offsets, codes, ages, has_ages):
    """Drop consecutive repeats of a code in every path; keep the age of each run's last touch.

    Returns (offsets, codes, ages, kept) where kept[i] is the index of the touch kept as output i.
    """
    n = offsets.shape[0] - 1
    out_off = np.zeros(n + 1, dtype=np.int64)
    out_codes = np.empty(codes.shape[0], dtype=np.int32)
    out_ages = np.empty(codes.shape[0] if has_ages else 0, dtype=np.float64)
    kept = np.empty(codes.shape[0], dtype=np.int64)
    c = 0
    for p in range(n):
        a = offsets[p]
        b = offsets[p + 1]
        for q in range(a, b):
            if q + 1 < b and codes[q + 1] == codes[q]:
                continue  # not the last touch of its run
            out_codes[c] = codes[q]
            if has_ages:
                out_ages[c] = ages[q]
            kept[c] = q
            c += 1
        out_off[p + 1] = c
    return out_off, out_codes[:c].copy(), out_ages[: c if has_ages else 0].copy(), kept[:c].copy()
