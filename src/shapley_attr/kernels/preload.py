"""Compiled kernels loaded in the background while the input is read.

Importing numba and loading a run's cached kernels costs about half a second of mostly Python work;
validating an export is largely Polars work that releases the interpreter. :func:`preload` imports
the kernel modules a run will need in a daemon thread, so the two overlap (the local engine starts it
after the validation's first pass, the memory peak, so that numba's memory does not add to it:
10.7M events, 6 alternating runs, median 3.90 -> 3.77 s, peak RSS unchanged). Kernels with
signatures load their machine code at import, so importing is all it takes. Nothing depends on the
thread finishing: the code that uses a kernel imports its module as usual, and Python's import lock
makes it wait for a load in progress. A failure in the thread is dropped; the same import in the
caller raises it where it belongs.
"""
from __future__ import annotations

import importlib
import sys
import threading

EVENTS = ("shapley_attr.kernels.ordering", "shapley_attr.kernels.cut", "shapley_attr.kernels.sequences")
"""What cutting an events export into paths runs (the journey order, the cut, merging identical paths)."""

_lock = threading.Lock()
_requested: set[str] = set()


def preload(modules=EVENTS) -> threading.Thread | None:
    """Import ``modules`` (absolute names) in a daemon thread; the thread, or None when all are loaded
    or already requested."""
    with _lock:
        names = [m for m in modules if m not in sys.modules and m not in _requested]
        _requested.update(names)
    if not names:
        return None

    def run() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - the caller's own import reports it
                return

    thread = threading.Thread(target=run, name="shapley_attr-kernel-preload", daemon=True)
    thread.start()
    return thread
