"""The engine's one internal form, and the one place where frames become NumPy arrays and back.

A :class:`PathTable` is a CSR-style table of unique paths: ``codes[offsets[p]:offsets[p+1]]`` are the
int32 channel codes of path ``p`` in time order, with ``conversions[p]`` converting journeys worth
``value[p]`` and ``nulls[p]`` non-converting journeys on it. Channel codes index ``channels``, which is
sorted, so the same data always gives the same codes. Every model reads only this.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class PathTable:
    offsets: np.ndarray  # int64 [n_paths + 1], offsets[0] == 0
    codes: np.ndarray  # int32 [n_touches], channel code of each touch, in time order
    conversions: np.ndarray  # float64 [n_paths], converting journeys on the path
    value: np.ndarray  # float64 [n_paths], their GMV (reporting currency)
    nulls: np.ndarray  # float64 [n_paths], non-converting journeys on the path
    channels: tuple[str, ...]  # code -> label, sorted
    ages: np.ndarray | None = None  # float64 [n_touches]: seconds from touch to conversion (events only)
    stats: dict = field(default_factory=dict)  # counts from the journey cut, for the manifest

    def __post_init__(self) -> None:
        n = len(self.conversions)
        if self.offsets.dtype != np.int64 or self.codes.dtype != np.int32:
            raise TypeError("PathTable: offsets must be int64 and codes int32")
        for name in ("conversions", "value", "nulls"):
            arr = getattr(self, name)
            if arr.dtype != np.float64 or len(arr) != n:
                raise TypeError(f"PathTable.{name} must be float64 of length {n}")
        if len(self.offsets) != n + 1 or (n + 1 and self.offsets[0] != 0) or self.offsets[-1] != len(self.codes):
            raise ValueError("PathTable.offsets do not match codes")
        if self.ages is not None and (self.ages.dtype != np.float64 or len(self.ages) != len(self.codes)):
            raise TypeError("PathTable.ages must be float64 with one entry per touch")

    @property
    def n_paths(self) -> int:
        return len(self.conversions)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def total(self, value: str) -> float:
        """X of MODELS.md: the total being attributed (``"gmv"`` or ``"conversions"``)."""
        return float(self.value.sum() if value == "gmv" else self.conversions.sum())

    def weights(self) -> np.ndarray:
        """(n_paths, 2) C-contiguous float64: [conversions, value]; kernels credit both at once."""
        return np.ascontiguousarray(np.stack([self.conversions, self.value], axis=1))

    def path_labels(self, sep: str = " > ") -> list[str]:
        """Paths as text, for debugging and tests (slow: Python loop)."""
        names = self.channels
        return [sep.join(names[c] for c in self.codes[a:b]) for a, b in zip(self.offsets[:-1], self.offsets[1:])]


def from_path_lists(paths: list[list[str]], conversions, value, nulls, *, ages=None) -> PathTable:
    """Build a PathTable from Python lists (tests, small API inputs). Paths are not merged.

    ``ages``, when given, is a list of per-touch age lists parallel to ``paths``.
    """
    channels = tuple(sorted({c for p in paths for c in p}))
    index = {c: i for i, c in enumerate(channels)}
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    offsets = np.zeros(len(paths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.fromiter((index[c] for p in paths for c in p), dtype=np.int32, count=int(offsets[-1]))
    age_arr = None
    if ages is not None:
        age_arr = np.fromiter((a for row in ages for a in row), dtype=np.float64, count=int(offsets[-1]))
    return PathTable(offsets, codes, np.asarray(conversions, dtype=np.float64),
                     np.asarray(value, dtype=np.float64), np.asarray(nulls, dtype=np.float64),
                     channels, age_arr)


def merge_identical_paths(table: PathTable) -> PathTable:
    """Aggregate rows with identical code sequences (sums of conversions, value, nulls).

    Rows keep the order of their first occurrence. Tables with ``ages`` are returned unchanged: ages
    differ between journeys and are what time-decay needs.
    """
    if table.ages is not None or table.n_paths == 0:
        return table
    lengths = table.lengths
    # A hashable key per path: the bytes of its codes (length is implied by the byte count).
    raw = table.codes.tobytes()
    starts = table.offsets[:-1] * 4
    ends = table.offsets[1:] * 4
    keys = {}
    inverse = np.empty(table.n_paths, dtype=np.int64)
    for p in range(table.n_paths):
        k = raw[starts[p]:ends[p]]
        inverse[p] = keys.setdefault(k, len(keys))
    n_unique = len(keys)
    if n_unique == table.n_paths:
        return table
    first = np.full(n_unique, -1, dtype=np.int64)
    for p in range(table.n_paths - 1, -1, -1):
        first[inverse[p]] = p
    new_len = lengths[first]
    offsets = np.zeros(n_unique + 1, dtype=np.int64)
    np.cumsum(new_len, out=offsets[1:])
    idx = np.concatenate([np.arange(table.offsets[p], table.offsets[p + 1]) for p in first]) if n_unique else np.empty(0, np.int64)
    codes = table.codes[idx].astype(np.int32)
    sums = [np.bincount(inverse, weights=getattr(table, f), minlength=n_unique) for f in ("conversions", "value", "nulls")]
    return PathTable(offsets, codes, *sums, table.channels, None, dict(table.stats))
