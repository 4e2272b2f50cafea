"""Events → journeys → unique paths (DATA.md, "Journeys"), and PathTable construction helpers.

Ordering: per user, by ``event_time``; a touch at the same instant as a conversion comes first;
otherwise events at the same instant keep their input order. Users are ordered by a 64-bit hash of
the id with a compiled parallel sort (buckets, then radix within each) that carries the columns the
cut reads in its records and cuts each bucket's users into journeys in the cache (Polars' two-key sort
measured 3.2 s on 10.7M rows against 0.4 s, for the sort alone); a hash collision between two
different users is detected by a second hash and the ids themselves are sorted and cut instead.

Rules chosen where DATA.md is silent (also written in the manifest):
- the lookback window is closed: a touch exactly ``lookback_days`` before its conversion counts;
- with ``--period``, events at or after the period's end are ignored, conversions before its start
  close (reset) their journeys without being attributed, and the touches after a user's last
  conversion form a non-converting journey when its last touch falls in the period; that journey is
  windowed by the lookback before its last touch, like a conversion's.
"""
from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

from .config import JourneyParams, month_of
from .schema import DIRECT
from .errors import InputError, ModelLimitError
from typing import TYPE_CHECKING

from .frames import VALUE_UNITS, PathTable, canonical_order, drop_unused_channels, merge_identical_paths, to_array

if TYPE_CHECKING:
    from .io.events import ValidatedEvents

_I64_MIN = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def period_bounds(period: str | None) -> tuple[int, int]:
    """[start, end) of a ``YYYY-MM`` UTC month in epoch microseconds (open bounds without a period)."""
    if period is None:
        return _I64_MIN, _I64_MAX
    ym = month_of(period)
    if ym is None:
        raise InputError("--period", "expected a month as YYYY-MM, e.g. 2026-10", value=period)
    year, month = ym
    start = (datetime(year, month, 1, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)
    # the end as the month's days after its start: datetime has no January of year 10000
    return start, start + calendar.monthrange(year, month)[1] * 86_400_000_000


def build_journeys(events: ValidatedEvents, gmv: np.ndarray, params: JourneyParams = JourneyParams(),
                   in_scope: np.ndarray | None = None) -> PathTable:
    """Cut validated events into journeys and aggregate identical journeys into a PathTable
    (:func:`cut_journeys` without order margins)."""
    return cut_journeys(events, gmv, params, in_scope)[0]


def cut_journeys(events: ValidatedEvents, gmv: np.ndarray, params: JourneyParams = JourneyParams(),
                 in_scope: np.ndarray | None = None, margin: np.ndarray | None = None, release: bool = False
                 ) -> tuple[PathTable, PathTable | None]:
    """Cut validated events into journeys and aggregate identical journeys into a PathTable.

    ``gmv`` is the order value of every accepted conversion (``events.conversions``, in row order) in
    the unit of the credits: converted to the reporting currency for the run's conversions; the
    values of conversions outside the run are never read. (One value per accepted event, the
    conversions' read and the touches' ignored, is taken too.) A conversion with no touch in its
    window becomes the path ``(direct)``, which the models credit directly (``models.fit``).
    ``events.user_ids()`` is called only if the two user-id hashes collide. With ``params.keep_ages``
    journeys are not merged and each touch keeps its age in seconds (time-decay).

    ``in_scope`` (bool; None = all) marks the conversions the run attributes among those of the
    period: one outside the pilot countries closes its user's journey but is not emitted (PROGRAMME.md
    "Pilot scope"). With ``margin`` (the order margin in the unit of the credits), the second table
    holds the same paths in the same order valued at their journeys' margins instead of their GMV:
    what the model's shares distribute as attributed margin. Both, like ``gmv``, hold one entry per
    accepted conversion, or one per accepted event (the conversions' read).

    With ``release`` (the local engine, which owns ``events``), the accepted columns the order
    carries in its records (ORDER_COLUMNS) are dropped from ``events`` once copied there: on 10.7M
    events this keeps ~300 MB off the run's memory peak. ``events`` cannot be cut again afterwards.
    """
    from .kernels.cut import (STAT_CONV_BEFORE_PERIOD, STAT_CONV_IN_PERIOD, STAT_CONV_OUT_OF_SCOPE, STAT_DIRECT,
                              STAT_DROPPED_LOOKBACK, STAT_EVENTS_AFTER_PERIOD, STAT_TAIL_TOUCHES_DROPPED,
                              STAT_TAILS, STAT_TAILS_OUTSIDE_PERIOD, STAT_TOUCHES_OUT_OF_SCOPE)

    n_events = len(events.accepted)
    n_conv = int(events.accepted.get_column("is_conversion").sum())
    gmv = conversion_values(events, gmv, n_conv)
    scope = (np.empty(0, dtype=np.bool_) if in_scope is None
             else conversion_values(events, in_scope, n_conv, np.bool_, "in_scope"))
    if margin is not None:
        margin = conversion_values(events, margin, n_conv, name="margin")
    labels = list(events.channels)
    categories = sorted(set(labels) | {DIRECT})
    direct_code = categories.index(DIRECT)
    # codes index the sorted labels without (direct); shift the ones after it
    position = {c: i for i, c in enumerate(categories)}  # a dict, not list.index: 100k channels stay linear
    remap = np.array([position[c] for c in labels], dtype=np.int32) if labels else np.zeros(1, np.int32)
    users, (off, codes, ages, conv, val, nul, source), st = _journeys_of_users(
        events, remap, gmv, scope, params, direct_code, margin is not None, release)
    del scope
    channels = tuple(categories)
    margin_table = None
    if margin is not None:  # each converting journey's margin, by its conversion's ordinal
        margin_j = np.zeros(len(conv), dtype=np.float64)
        converting = source >= 0
        margin_j[converting] = margin[source[converting]]
        del source
        margin_table = drop_unused_channels(
            _journey_table(off, codes, ages, conv, margin_j, nul, channels) if params.keep_ages
            else _merged_journeys(off, codes, conv, margin_j, nul, channels))
    if params.keep_ages:  # journeys stay apart; their values in the same millionths as merged paths
        table = _journey_table(off, codes, ages, conv, val, nul, channels, keep_values=True)
    else:
        table = _merged_journeys(off, codes, conv, val, nul, channels, keep_values=True)
    table = drop_unused_channels(table)
    stats = {
        "events": n_events,
        "users": users,
        "touches": n_events - n_conv,
        "conversions": n_conv,
        "conversions_in_period": int(st[STAT_CONV_IN_PERIOD]),
        "conversions_before_period": int(st[STAT_CONV_BEFORE_PERIOD]),
        "events_after_period": int(st[STAT_EVENTS_AFTER_PERIOD]),
        "journeys": int(len(conv)),
        "converting_journeys": int(conv.sum()),
        "non_converting_journeys": int(nul.sum()),
        "non_converting_tails_outside_period": int(st[STAT_TAILS_OUTSIDE_PERIOD]),
        "touches_dropped_lookback": int(st[STAT_DROPPED_LOOKBACK] + st[STAT_TAIL_TOUCHES_DROPPED]),
        "direct_conversions": int(st[STAT_DIRECT]),
        "unique_paths": table.n_paths,
        "max_path_length": int(table.lengths.max()) if table.n_paths else 0,
        "tails": int(st[STAT_TAILS]),
    }
    if in_scope is not None:
        stats["conversions_outside_countries"] = int(st[STAT_CONV_OUT_OF_SCOPE])
        stats["touches_closed_outside_countries"] = int(st[STAT_TOUCHES_OUT_OF_SCOPE])
    table = PathTable(table.offsets, table.codes, table.conversions, table.value, table.nulls, table.channels,
                      table.ages, stats, table.value_offsets, table.journey_values)
    return table, margin_table


def _journey_table(off, codes, ages, conv, value, nul, channels, keep_values: bool = False) -> PathTable:
    """Journeys kept apart (time-decay: each touch keeps its age) as a PathTable, the conversion and
    null flags (bool, one journey each) as counts, the values in the same millionths as merged paths;
    with ``keep_values`` each converting journey's value is also its path's own (the bootstrap's)."""
    value = np.rint(value * VALUE_UNITS) / VALUE_UNITS
    table = PathTable(off, codes, conv.astype(np.float64), value, nul.astype(np.float64), channels, ages)
    if not keep_values:
        return table
    value_offsets = np.zeros(len(conv) + 1, dtype=np.int64)
    np.cumsum(conv, out=value_offsets[1:])
    return replace(table, value_offsets=value_offsets, journey_values=value[conv])


def merged_in_canonical_order(journeys: PathTable, keep_values: bool = False) -> PathTable:
    """``canonical_order(merge_identical_paths(journeys, exact_value=True, keep_values))``, the same
    table to the bit, by one sort (:func:`_merged_journeys`) when every row is a single journey
    (conversions and nulls 0 or 1, never both 1) without ages; otherwise by those two steps."""
    converting = journeys.conversions == 1
    null = journeys.nulls == 1
    if (journeys.ages is not None or not (converting | (journeys.conversions == 0)).all()
            or not (null | (journeys.nulls == 0)).all()):
        return _canonical(merge_identical_paths(journeys, exact_value=True, keep_values=keep_values))
    table = _merged_journeys(journeys.offsets, journeys.codes, converting, journeys.value, null, journeys.channels,
                             keep_values)
    return replace(table, stats=dict(journeys.stats))


def _merged_journeys(offsets, codes, converting, value, null, channels, keep_values: bool = False) -> PathTable:
    """Journeys (one a row: ``converting`` and ``null`` their bool flags, never both) merged into
    paths in canonical order: ``canonical_order(merge_identical_paths(...))`` of their PathTable, the
    same table to the bit, by one sort: the journeys are ordered by their content key with the order
    kernels (the key in place of the user hash, a second word of the content in place of the second
    hash, the journey's index in place of the time, its conversion, null flag and value carried in
    the records, so nothing is gathered at random), and the runs of one key are summed (values
    exactly in millionths; with ``keep_values`` each path keeps its converting journeys' values in
    journey order). The second word holds the codes themselves when they fit in 63 bits (most
    journeys: 12 codes of up to 31 channels), else a second hash (``kernels.ordering.
    _keys_and_contents``): a run whose words differ is a key shared by distinct sequences (chance
    ~2^-64 a pair) and takes the general way, as do tables of 2^31 journeys or more. The paths' codes
    are unpacked from the words of their runs' first journeys (read from the journeys only where
    hashed). The flags stay a byte each: the journey cut writes them so (``kernels.ordering.
    _sorted_journeys``), and the general way alone widens them to the PathTable's float64 counts."""
    from .kernels.ordering import _keys_and_contents, _order_records, _run_sequences, _run_sums, _user_records

    def general() -> PathTable:  # the arguments as given: nothing below rebinds them before it is called
        journeys = PathTable(offsets, codes, converting.astype(np.float64), value, null.astype(np.float64), channels)
        return _canonical(merge_identical_paths(journeys, exact_value=True, keep_values=keep_values))

    m = len(converting)
    if m < 2 or m >= 2**31 or (converting & null).any():
        return general()
    bits = max(1, len(channels).bit_length())  # code + 1 <= n_channels < 2^bits
    keys, contents = _keys_and_contents(offsets, codes, bits)
    records, starts = _user_records(keys, contents, np.arange(m, dtype=np.int64), converting,
                                    null.astype(np.int32), np.arange(2, dtype=np.int32))
    del keys, contents
    order = np.empty(m, dtype=np.int32)
    run_start, collided, _, sorted_converting, sorted_null, sorted_value = _order_records(
        records, starts, value[converting], order)
    if collided:
        return general()
    # the kernel's code column: the null flag on the non-converting journeys, -1 on the converting ones
    at, conversions, path_value, nulls, value_offsets, journey_values = _run_sums(
        run_start, sorted_converting, sorted_null, sorted_value, keep_values)
    first = records[at, 1]  # the records are sorted in place: each run's first content word
    del records
    path_off, path_codes = _run_sequences(first, offsets, codes, order[at].astype(np.int64), bits)
    if not keep_values:
        value_offsets = journey_values = None
    return PathTable(path_off, path_codes, conversions, path_value, nulls, channels, None, {}, value_offsets,
                     journey_values)


def _canonical(table: PathTable) -> PathTable:
    """:func:`frames.canonical_order` with the content keys from the compiled kernel (loaded here)."""
    from .kernels.sequences import _sequence_keys

    return canonical_order(table, keys=_sequence_keys(table.offsets, table.codes))


def conversion_values(events: ValidatedEvents, values, n_conv: int, dtype=np.float64, name: str = "gmv"
                      ) -> np.ndarray:
    """``values`` as one entry per accepted conversion (row order; float64 unless ``dtype``): as given,
    or taken at the conversions' positions when it holds one entry per accepted event."""
    values = np.asarray(values, dtype=dtype)
    if len(values) == n_conv:
        return np.ascontiguousarray(values)
    if len(values) == len(events.accepted):
        position = events.conversions.get_column("_i").to_numpy()
        if len(position) != n_conv:
            raise RuntimeError(f"validation kept {len(position)} conversions and {n_conv} conversion events")
        return values[position]
    raise ValueError(f"{name} has {len(values)} values: expected one per accepted conversion ({n_conv}) "
                     f"or one per accepted event ({len(events.accepted)})")


ORDER_COLUMNS = ("_h", "_h2", "t", "is_conversion", "code")
"""The accepted columns the order kernel copies into its records (what ``release`` drops)."""


def _column(df: pl.DataFrame, name: str, dtype) -> np.ndarray:
    """A column as a contiguous array of ``dtype`` without copying when it already is one."""
    return np.ascontiguousarray(df.get_column(name).to_numpy(), dtype=dtype)


def _journeys_of_users(events: ValidatedEvents, remap: np.ndarray, gmv: np.ndarray, in_scope: np.ndarray,
                       params: JourneyParams, direct_code: int, keep_source: bool, release: bool):
    """The users' journeys (``kernels.cut._cut_journeys``'s rules): ``(users, (offsets, codes, ages,
    conversions, value, nulls, source), stats)``, the conversions and nulls as bool flags (one journey
    each), ``source`` the conversion ordinal of each converting journey (with ``keep_source``).
    ``gmv`` and ``in_scope`` (empty: all in scope) hold one entry a conversion.

    Events are ordered by user, then time (touch before conversion at the same instant), then input
    order. Users are ordered by a 64-bit hash of the id with a compiled bucket-and-radix sort (linear
    time; see ``kernels.ordering``: every row becomes a record carrying the columns the cut reads, and
    each bucket of users is cut while its rows are in the cache), several times faster than two stable
    Polars sorts on 10M rows. With ``release`` the order columns are dropped from ``events`` once the
    records hold their values (see :func:`cut_journeys`). A second, independent hash checks the first:
    two different ids sharing both 64-bit hashes has probability ~n²/2^128. When the hashes disagree,
    the ids themselves (``events.user_ids()``) are sorted and cut as a whole.
    """
    from .kernels.cut import _cut_journeys
    from .kernels.ordering import _sorted_journeys

    records, starts = _records_of(events, remap, len(gmv), release)
    p_start, p_end = period_bounds(params.period)
    lookback_us = int(round(params.lookback_days * 86400 * 1_000_000))
    collided, users, journeys, stats = _sorted_journeys(records, starts, gmv, in_scope, lookback_us, p_start, p_end,
                                                        np.int32(direct_code), params.keep_ages, keep_source)
    if not collided:
        return int(users), journeys, stats
    new_user, (t, is_conv, code, value, ordinal) = _order_by_ids(events, records, gmv)
    del records
    scope = in_scope if len(in_scope) == 0 else np.where(is_conv, in_scope[np.maximum(ordinal, 0)], True)
    off, codes, ages, conv, val, nul, source, stats = _cut_journeys(
        new_user, t, is_conv, code, value, scope, lookback_us, p_start, p_end, np.int32(direct_code),
        params.keep_ages, keep_source)
    if keep_source:  # the event index in the order, as the conversion's ordinal
        source = np.where(source >= 0, ordinal[np.maximum(source, 0)], -1)
    # the flags as the order kernel gives them (a journey's conversions and nulls are 0 or 1)
    return int(new_user.sum()), (off, codes, ages, conv == 1, val, nul == 1, source), stats


def _records_of(events: ValidatedEvents, remap: np.ndarray, n_values: int, release: bool):
    """The accepted events as the order kernel's records (``kernels.ordering._user_records``), and the
    buckets' starts; with ``release`` the order columns are dropped from ``events`` afterwards."""
    from .kernels.ordering import _records_of_chunks

    df = events.accepted
    n = len(df)
    if n >= 2**31:  # the order kernel's int32 row field (~97 GB of events on this engine anyway)
        raise ModelLimitError(f"{n:,} accepted events: the local engine orders at most 2^31 - 1 "
                              "events; use --engine spark, or split the export by period or country")
    n_conv = int(df.get_column("is_conversion").sum())
    if n_values != n_conv:  # the kernels read a conversion's value by its ordinal, unchecked
        raise ValueError(f"{n_values} values for {n_conv} conversions: expected one per conversion")
    chunks = _order_chunks(df)
    del df
    if release:  # the chunks then hold the only references: each is freed once scattered
        events.release(ORDER_COLUMNS)
    return _records_of_chunks(chunks, remap)


def _order_chunks(df: pl.DataFrame) -> list[tuple[np.ndarray, ...]]:
    """The order columns (``_h, _h2, t, is_conversion, code``) as arrays, chunk by chunk: the chunks of
    the hash column (one a batch of the validation) where the others share them, else one."""
    dtypes = (np.uint64, np.uint64, np.int64, np.bool_, np.int32)
    parts = [df.get_column(name).get_chunks() for name in ORDER_COLUMNS]
    lengths = [len(p) for p in parts[0]]
    if len(lengths) > 1 and all([len(p) for p in column] == lengths for column in parts[1:3]):
        bounds = np.cumsum([0] + lengths)
        whole = {3: _column(df, "is_conversion", np.bool_), 4: _column(df, "code", np.int32)}
        return [tuple(np.ascontiguousarray(parts[i][k].to_numpy(), dtype=dtypes[i]) if i < 3
                      else whole[i][bounds[k]:bounds[k + 1]] for i in range(5)) for k in range(len(lengths))]
    return [tuple(_column(df, name, dtype) for name, dtype in zip(ORDER_COLUMNS, dtypes))]


def _order_by_ids(events: ValidatedEvents, records: np.ndarray, gmv: np.ndarray):
    """After a collision of the user hashes: the events ordered by the user ids themselves, then time
    (touch before conversion), then input order, from the rows' values in ``records`` (any order of
    them): the ``new_user`` flags and ``t, is_conversion, code (-1 on conversions), value, ordinal``
    (a conversion's ordinal, -1 on touches) in that order."""
    n = len(records)
    row = (records[:, 3] >> np.uint64(32)).astype(np.int64)
    key = np.empty(n, dtype=np.int64)
    key[row] = records[:, 2].view(np.int64)
    low = np.empty(n, dtype=np.int64)
    low[row] = (records[:, 3] & np.uint64(0xFFFFFFFF)).astype(np.int64)  # code + 1, or conversion ordinal
    del row
    keys = pl.DataFrame({"_key": key, "user_id": events.user_ids()}).with_row_index("_i")
    order = keys.sort("_key", maintain_order=True).sort("user_id", maintain_order=True)
    u = order.get_column("user_id")
    perm = to_array(order.get_column("_i"), np.int32)
    key, low = key[perm], low[perm]
    is_conv = (key & 1) == 1
    value = np.zeros(n, dtype=np.float64)
    value[is_conv] = gmv[low[is_conv]]
    ordinal = np.where(is_conv, low, -1)
    new_user = to_array((u != u.shift(1)).fill_null(True), np.bool_)
    return new_user, [key >> 1, is_conv, np.where(is_conv, -1, low - 1).astype(np.int32), value, ordinal]
