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
    value_offsets: np.ndarray | None = None  # int64 [n_paths + 1]: CSR over journey_values (events only)
    journey_values: np.ndarray | None = None  # float64: each converting journey's own value, by path

    def __post_init__(self) -> None:
        # Kernels take C-contiguous writable arrays of exact dtypes (Arrow buffers come read-only).
        for name in ("offsets", "codes", "conversions", "value", "nulls", "ages"):
            arr = getattr(self, name)
            if arr is not None and (not arr.flags.c_contiguous or not arr.flags.writeable):
                object.__setattr__(self, name, np.require(arr, requirements=["C", "W", "O"]))
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
        if (self.value_offsets is None) != (self.journey_values is None):
            raise TypeError("PathTable.value_offsets and journey_values go together")
        if self.value_offsets is not None and (len(self.value_offsets) != n + 1
                                               or self.value_offsets[-1] != len(self.journey_values)):
            raise ValueError("PathTable.value_offsets do not match journey_values")

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


def to_array(series, dtype) -> np.ndarray:
    """A Polars Series as a C-contiguous, writable NumPy array of ``dtype`` (what kernels take)."""
    return np.require(series.to_numpy(), dtype=dtype, requirements=["C", "W", "O"])


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


VALUE_UNITS = 1e6
"""Values are summed in integer millionths of the currency unit when journeys merge into paths:
exact, so the same journeys give the same table whatever their order or partitioning."""

MAX_EXACT_TOTAL = 9.2e12
"""The most a run's values may sum to (in the unit attributed): in millionths, a 64-bit integer holds
9.22e12 units. Beyond it the sums wrapped around (100 orders of 1e11 VND on one path: -8.4e12,
reported as balanced); :func:`check_exact_total` refuses such a run instead."""


def check_exact_total(values, source: str, unit: str | None = None) -> None:
    """Refuse (exit 2) values whose sum of magnitudes exceeds :data:`MAX_EXACT_TOTAL`: every exact sum
    of them (a path's, a channel's, the run's) then fits the 64-bit millionths."""
    from .errors import ModelLimitError

    total = float(np.abs(np.asarray(values, dtype=np.float64)).sum()) if np.size(values) else 0.0
    if not total < MAX_EXACT_TOTAL:  # NaN included
        raise ModelLimitError(
            f"{source}: the values to attribute sum to {total:.6g}{' ' + unit if unit else ''}, more than the "
            f"{MAX_EXACT_TOTAL:.3g} that exact sums carry (millionths in 64-bit integers): attribute in a "
            "currency of larger units (--fx with another --reporting-currency), or a part of the export at a time")


def merge_identical_paths(table: PathTable, exact_value: bool = False, keep_values: bool = False) -> PathTable:
    """Aggregate identical code sequences (sums of conversions, value, nulls), first-occurrence order.

    With ``exact_value`` (the engines, when journeys become paths) ``value`` is summed exactly in
    millionths (:data:`VALUE_UNITS`), so the sum does not depend on the journeys' order; otherwise
    (inside a model, e.g. after collapsing repeats of a table already in canonical order) in float64,
    in the table's order. Counts are whole numbers or sums of few fractions. With ``keep_values``
    (rows are single journeys, conversions 0 or 1) each path keeps the values of its converting
    journeys, in row order (``value_offsets``/``journey_values``): what the bootstrap resamples.
    """
    from .kernels.sequences import _gather_sequences, _sum_units_by_id, _unique_sequences

    if table.n_paths == 0:
        return table
    inverse, first = _unique_sequences(table.offsets, table.codes)
    n = len(first)
    value_offsets = journey_values = None
    if keep_values:
        converting = np.flatnonzero(table.conversions > 0)
        by_path = converting[np.argsort(inverse[converting], kind="stable")]
        journey_values = np.rint(table.value[by_path] * VALUE_UNITS) / VALUE_UNITS
        value_offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(inverse[converting], minlength=n), out=value_offsets[1:])
    if exact_value:
        value = _sum_units_by_id(inverse, first, table.value) / VALUE_UNITS
    elif n == table.n_paths:
        return table
    else:
        value = np.bincount(inverse, weights=table.value, minlength=n)
    if n == table.n_paths:
        return PathTable(table.offsets, table.codes, table.conversions, value, table.nulls, table.channels,
                         table.ages, dict(table.stats), value_offsets, journey_values)
    off, codes = _gather_sequences(table.offsets, table.codes, first)
    sums = [np.bincount(inverse, weights=getattr(table, f), minlength=n) for f in ("conversions", "nulls")]
    return PathTable(off, codes, sums[0], value, sums[1], table.channels, None, dict(table.stats),
                     value_offsets, journey_values)


def take_paths(table: PathTable, rows: np.ndarray) -> PathTable:
    """The paths ``rows`` (int64 indices, in that order) of ``table``, with their touches' ages and
    their journeys' values when the table keeps them (vectorised NumPy: no compiled kernel)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    off = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(table.lengths[rows], out=off[1:])
    touches = _csr_positions(table.offsets, rows, off)
    codes = table.codes[touches]
    ages = None if table.ages is None else table.ages[touches]
    value_offsets = journey_values = None
    if table.value_offsets is not None:
        value_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.diff(table.value_offsets)[rows], out=value_offsets[1:])
        journey_values = table.journey_values[_csr_positions(table.value_offsets, rows, value_offsets)]
    return PathTable(off, codes, table.conversions[rows], table.value[rows], table.nulls[rows], table.channels,
                     ages, dict(table.stats), value_offsets, journey_values)


def _csr_positions(offsets: np.ndarray, rows: np.ndarray, new_offsets: np.ndarray) -> np.ndarray:
    """Positions in a CSR's data of the entries of ``rows``, in order (``new_offsets`` their new CSR)."""
    return np.repeat(offsets[rows] - new_offsets[:-1], np.diff(new_offsets)) + np.arange(new_offsets[-1],
                                                                                       dtype=np.int64)


# SplitMix64's constants and the key's polynomial step; kernels.mix and kernels.sequences._sequence_keys
# hold their own copies (kernels import nothing from the package), tested equal by their results
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STEP = np.uint64(0x9E3779B97F4A7C15)


def sequence_keys(table: PathTable) -> np.ndarray:
    """A 64-bit key of every path's code sequence, from its content alone (a polynomial hash over
    the codes, mixed with the length and a SplitMix64 finaliser; vectorised NumPy, the same on every
    machine and version). Equal sequences have equal keys; distinct ones collide with chance ~2^-64."""
    lengths = table.lengths
    n = len(table.codes)
    if table.n_paths == 0:
        return np.zeros(0, dtype=np.uint64)
    max_len = int(lengths.max()) if len(lengths) else 0
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(max(max_len, 1), _STEP, dtype=np.uint64), dtype=np.uint64)
        pos = np.arange(n, dtype=np.int64) - np.repeat(table.offsets[:-1], lengths)
        terms = (table.codes.astype(np.uint64) + np.uint64(1)) * powers[pos]
        sums = np.zeros(table.n_paths, dtype=np.uint64)
        nonempty = lengths > 0
        if n:
            sums[nonempty] = np.add.reduceat(terms, table.offsets[:-1][nonempty])
        z = sums ^ (lengths.astype(np.uint64) * _MIX2)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def canonical_order(table: PathTable, merge: bool = False, keys: np.ndarray | None = None) -> PathTable:
    """Paths in an order fixed by their content alone — by :func:`sequence_keys`, ties (distinct
    paths with one key) by their codes — so every engine, whatever the input's row order or
    partitioning, hands the models the same table and credits and payouts are identical to the last
    bit. With ``merge``, identical paths are merged (conversions and nulls summed, values exactly in
    millionths); without it the paths must already be unique. Vectorised NumPy: no compiled kernel
    (``keys``: the table's :func:`sequence_keys` when the caller has them, e.g. from
    ``kernels.sequences._sequence_keys``)."""
    if table.n_paths < 2 or table.ages is not None:
        return table
    keys = sequence_keys(table) if keys is None else keys
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    tied = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    if len(tied) == 0:
        return take_paths(table, order)
    off, codes = table.offsets, table.codes

    def seq(p):
        return tuple(codes[off[p]:off[p + 1]].tolist())

    # runs of equal keys: identical paths (duplicates) or, with chance ~2^-64, distinct ones
    starts = np.concatenate([[0], np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1, [len(order)]])
    new_order = []
    for a, b in zip(starts[:-1], starts[1:]):
        run = order[a:b]
        new_order.extend(sorted(run.tolist(), key=lambda p: seq(p)) if b - a > 1 else run.tolist())
    order = np.asarray(new_order, dtype=np.int64)
    same = np.zeros(len(order), dtype=bool)  # same[i]: path order[i] equals order[i - 1]
    for i in tied + 1:
        same[i] = seq(order[i]) == seq(order[i - 1])
    if same.any() and not merge:
        raise ValueError("canonical_order: the paths are not unique (merge them first)")
    if not same.any():
        return take_paths(table, order)
    group = np.cumsum(~same) - 1
    first = order[~same]
    units = np.rint(table.value[order] * VALUE_UNITS).astype(np.int64)
    merged = take_paths(table, first)
    n = len(first)
    value = np.zeros(n, dtype=np.int64)
    np.add.at(value, group, units)
    conv = np.bincount(group, weights=table.conversions[order], minlength=n)
    nulls = np.bincount(group, weights=table.nulls[order], minlength=n)
    return PathTable(merged.offsets, merged.codes, conv, value / VALUE_UNITS, nulls, table.channels, None,
                     dict(table.stats))


def drop_unused_channels(table: PathTable) -> PathTable:
    """Remove channels that no path uses and renumber codes (keeps the sorted order)."""
    used = np.flatnonzero(np.bincount(table.codes, minlength=len(table.channels)))
    if len(used) == len(table.channels):
        return table
    if len(used) == len(table.channels) - 1:  # one channel unused (the (direct) label): the codes above it shift
        gone = int(np.flatnonzero(np.diff(used, prepend=-1, append=len(table.channels)) > 1)[0])
        codes = table.codes - (table.codes > gone).view(np.int8)
    else:
        remap = np.full(len(table.channels), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        codes = remap[table.codes]
    return PathTable(table.offsets, codes, table.conversions, table.value, table.nulls,
                     tuple(table.channels[i] for i in used), table.ages, dict(table.stats), table.value_offsets,
                     table.journey_values)


def split_direct(table: PathTable) -> tuple[PathTable, np.ndarray]:
    """The table without its ``(direct)`` journeys, and their [conversions, value] (float64, 2).

    ``(direct)`` (a conversion with no touch in its window) is credited outside every model
    (MODELS.md): it is no player of a game and no state of a Markov chain. Its journeys are the paths
    made of the single label ``(direct)``; the label is dropped from the returned table's channels.
    """
    direct = _direct_paths(table)
    if direct is None:
        return table, np.zeros(2)
    totals = _totals(table, direct)
    if not direct.any():
        return drop_unused_channels(table), totals
    at = np.flatnonzero(direct)
    rest = _without_path(table, int(at[0])) if len(at) == 1 else take_paths(table, np.flatnonzero(~direct))
    return drop_unused_channels(rest), totals


def _without_path(table: PathTable, k: int) -> PathTable:
    """``table`` without its path ``k``, by slices (merged paths hold one ``(direct)`` path: the rest is
    copied whole instead of gathered)."""
    def cut(values: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
        return None if values is None else np.concatenate([values[:lo], values[hi:]])

    def offsets_without(off: np.ndarray) -> np.ndarray:
        return np.concatenate([off[:k + 1], off[k + 2:] - (off[k + 1] - off[k])])

    a, b = int(table.offsets[k]), int(table.offsets[k + 1])
    value_offsets = journey_values = None
    if table.value_offsets is not None:
        value_offsets = offsets_without(table.value_offsets)
        journey_values = cut(table.journey_values, int(table.value_offsets[k]), int(table.value_offsets[k + 1]))
    return PathTable(offsets_without(table.offsets), cut(table.codes, a, b), cut(table.conversions, k, k + 1),
                     cut(table.value, k, k + 1), cut(table.nulls, k, k + 1), table.channels, cut(table.ages, a, b),
                     dict(table.stats), value_offsets, journey_values)


def direct_totals(table: PathTable) -> np.ndarray:
    """[conversions, value] of the ``(direct)`` journeys (what :func:`split_direct` returns beside the
    table, without building the table)."""
    direct = _direct_paths(table)
    return np.zeros(2) if direct is None else _totals(table, direct)


def _totals(table: PathTable, rows: np.ndarray) -> np.ndarray:
    return np.array([table.conversions[rows].sum(), table.value[rows].sum()])


def _direct_paths(table: PathTable) -> np.ndarray | None:
    """Which paths are ``(direct)`` (None when the label is not a channel); an error when the label
    appears inside a path."""
    from .schema import DIRECT

    if DIRECT not in table.channels:
        return None
    code = table.channels.index(DIRECT)
    lengths = table.lengths
    first = table.codes[np.minimum(table.offsets[:-1], max(len(table.codes) - 1, 0))] if len(table.codes) else (
        np.full(table.n_paths, -1, dtype=np.int32))
    direct = (lengths == 1) & (first == code)
    if int(direct.sum()) != int(np.sum(table.codes == code)):
        raise ValueError(f"{DIRECT} appears inside a journey with other channels; it is reserved for "
                         "conversions without a touch")
    return direct
