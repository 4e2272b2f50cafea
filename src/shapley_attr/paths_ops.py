"""Transformations of a PathTable shared by the models."""
from __future__ import annotations

import numpy as np

from .frames import PathTable, merge_identical_paths


def collapse_repeats(table: PathTable) -> PathTable:
    """Remove consecutive repeats of a channel in every path (``a > a > b`` → ``a > b``).

    Identical paths that result are merged. For a table with touch ages (time-decay) each run keeps
    the age of its last touch, the one closest to the conversion.
    """
    from .kernels.heuristics import _collapse_runs

    has_ages = table.ages is not None
    ages = table.ages if has_ages else np.empty(0, dtype=np.float64)
    off, codes, new_ages, _ = _collapse_runs(table.offsets, table.codes, ages, has_ages)
    if len(codes) == len(table.codes):
        return table
    out = PathTable(off, codes, table.conversions, table.value, table.nulls, table.channels,
                    new_ages if has_ages else None, dict(table.stats))
    return merge_identical_paths(out)
