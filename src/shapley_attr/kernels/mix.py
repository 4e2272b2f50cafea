"""The SplitMix64 finaliser (Steele, Lea & Flood 2014), on its own so that hashing kernels load
without the random-number kernels."""
from __future__ import annotations

import numpy as np

from ._jit import kernel

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@kernel("uint64(uint64)")
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche of 64 bits."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))
