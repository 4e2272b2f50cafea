"""The one JIT policy of the package (numba-stats style).

Every kernel is compiled with ``cache=True`` (the second run of the CLI loads machine code from the
cache instead of compiling), ``nogil=True`` (callers may run kernels from threads),
``error_model="numpy"`` (no Python exception checks on division in hot loops) and ``fastmath`` off:
reassociated float sums would change the last bits between builds and break byte-identical reruns.
"""
from __future__ import annotations

import numba

_COMMON = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)


def kernel(signature=None, *, parallel: bool = False):
    """Decorator for a compiled kernel. ``signature`` may be omitted for kernels with many call types."""
    if signature is None:
        return numba.njit(parallel=parallel, **_COMMON)
    return numba.njit(signature, parallel=parallel, **_COMMON)
