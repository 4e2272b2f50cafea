"""Transformations of a PathTable shared by the models."""
from __future__ import annotations

import numpy as np

from .frames import PathTable


def collapse_repeats(table: PathTable) -> PathTable:
    """Remove consecutive repeats of a channel in every path (``a > a > b`` → ``a > b``).

    Paths that become identical are not merged (no model needs it, and merging would need a compiled
    kernel: Markov and the heuristics run without Numba). For a table with touch ages (time-decay)
    each run keeps the age of its last touch, the one closest to the conversion.
    """
    lengths = table.lengths
    n = len(table.codes)
    last_of_run = np.zeros(n, dtype=bool)
    last_of_run[table.offsets[1:][lengths > 0] - 1] = True  # a path's last touch ends its run
    if n > 1:
        last_of_run[:-1] |= table.codes[:-1] != table.codes[1:]
    if last_of_run.all():
        return table
    kept = np.concatenate([[0], np.cumsum(last_of_run)])
    return PathTable(kept[table.offsets].astype(np.int64), table.codes[last_of_run], table.conversions, table.value,
                     table.nulls, table.channels, None if table.ages is None else table.ages[last_of_run],
                     dict(table.stats))
