"""The ordered game (Zhao et al. 2018): dividends spread over each channel's positions."""
from __future__ import annotations

import numpy as np

from ._jit import kernel


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
