"""Shapley weights of a coalition of size t among m players, in and out (lgamma, no overflow)."""
from __future__ import annotations

import math

from ._jit import kernel


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
