"""Table operations against straightforward references: dropping the ``(direct)`` paths and unused
channels, and grouping paths by channel set."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shapley_attr.frames import PathTable, split_direct, take_paths
from shapley_attr.models.shapley import distinct_sets
from shapley_attr.schema import DIRECT

LABELS = ("(direct)", "a", "b", "c", "d", "e")


@st.composite
def tables_with_direct(draw):
    """Paths over some of LABELS (codes sorted labels, (direct) among them) where ``(direct)`` appears
    only as a one-touch path (none, one or several of them), with or without ages and journey values."""
    n_channels = draw(st.integers(2, len(LABELS)))
    channels = LABELS[:n_channels]
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()) and draw(st.booleans()):
            path = [0]
        else:
            path = draw(st.lists(st.integers(1, n_channels - 1), min_size=0, max_size=4))
        conv = draw(st.integers(0, 3))
        rows.append((path, conv, draw(st.integers(0, 2)), [float(draw(st.integers(1, 999))) for _ in range(conv)]))
    offsets = np.cumsum([0] + [len(p) for p, *_ in rows]).astype(np.int64)
    codes = np.array([c for p, *_ in rows for c in p], dtype=np.int32)
    conv = np.array([c for _, c, _, _ in rows], dtype=np.float64)
    nulls = np.array([z for _, _, z, _ in rows], dtype=np.float64)
    values = [v for *_, v in rows]
    value = np.array([sum(v) for v in values], dtype=np.float64)
    ages = np.arange(len(codes), dtype=np.float64) if draw(st.booleans()) else None
    value_offsets = journey_values = None
    if draw(st.booleans()):
        value_offsets = np.cumsum([0] + [len(v) for v in values]).astype(np.int64)
        journey_values = np.array([x for v in values for x in v], dtype=np.float64)
    return PathTable(offsets, codes, conv, value, nulls, channels, ages, {"k": 1}, value_offsets, journey_values)


def _reference_split(table: PathTable):
    """Gather the other paths, then renumber the channels by a lookup table."""
    if DIRECT not in table.channels:
        return table, np.zeros(2)
    code = table.channels.index(DIRECT)
    direct = (np.diff(table.offsets) == 1) & (table.codes[np.minimum(table.offsets[:-1], max(len(table.codes) - 1, 0))]
                                             == code) if len(table.codes) else np.zeros(table.n_paths, bool)
    rest = take_paths(table, np.flatnonzero(~direct))
    used = sorted(set(rest.codes.tolist()))
    remap = np.full(len(rest.channels), -1, dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    kept = PathTable(rest.offsets, remap[rest.codes], rest.conversions, rest.value, rest.nulls,
                     tuple(rest.channels[i] for i in used), rest.ages, dict(rest.stats), rest.value_offsets,
                     rest.journey_values)
    return kept, np.array([table.conversions[direct].sum(), table.value[direct].sum()])


def _same(a: PathTable, b: PathTable) -> None:
    assert a.channels == b.channels and a.stats == b.stats
    for name in ("offsets", "codes", "conversions", "value", "nulls", "ages", "value_offsets", "journey_values"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name


@settings(max_examples=300, deadline=None)
@given(tables_with_direct())
def test_split_direct_equals_gathering_the_other_paths(table):
    """One (direct) path (merged tables) is cut out by slices, several are gathered: both equal the
    gather of the other paths with the channels renumbered by a lookup table, ages and values kept."""
    rest, totals = split_direct(table)
    want, want_totals = _reference_split(table)
    assert totals.tolist() == want_totals.tolist()
    _same(rest, want)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8), st.lists(st.lists(st.integers(0, 7), min_size=0, max_size=5), min_size=1, max_size=30))
def test_distinct_sets_counted_equal_sorted(n_channels, paths):
    """Channel sets found by counting masks (up to SMALL_CHANNELS) equal np.unique's: the same sets in
    ascending mask order, the same set for every path, the same K and N."""
    paths = [[c % n_channels for c in p] for p in paths]
    offsets = np.cumsum([0] + [len(p) for p in paths]).astype(np.int64)
    codes = np.array([c for p in paths for c in p], dtype=np.int32)
    conv = np.arange(len(paths), dtype=np.float64) % 3
    table = PathTable(offsets, codes, conv, conv * 10.0, np.ones(len(paths)), tuple("abcdefgh"[:n_channels]))
    set_off, set_codes, path_set, k, n = distinct_sets(table)
    masks = np.array([sum(1 << c for c in set(p)) for p in paths], dtype=np.int64)
    want_masks, want_set = np.unique(masks, return_inverse=True)
    got_masks = [sum(1 << int(c) for c in set_codes[set_off[i]:set_off[i + 1]]) for i in range(len(set_off) - 1)]
    assert got_masks == want_masks.tolist()
    assert path_set.dtype == np.int64 and path_set.tolist() == want_set.ravel().tolist()
    assert k.tolist() == np.bincount(want_set.ravel(), weights=conv).tolist()
    assert n.tolist() == np.bincount(want_set.ravel(), weights=conv + 1.0).tolist()
