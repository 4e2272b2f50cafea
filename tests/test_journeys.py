"""The journey builder against a naive per-user loop: ties, lookback edges, (direct), tails, periods."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from .helpers import gmv_totals, load
from shapley_attr.journeys import period_bounds

from .naive import journeys as naive

DAY = 86_400_000_000
T0 = int(datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp() * 1e6)


def frame(events):
    return pl.DataFrame({
        "user_id": [e["user"] for e in events],
        "event_time": pl.Series([e["t"] for e in events], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
        "event_type": ["conversion" if e["conv"] else "touch" for e in events],
        "channel": [None if e["conv"] else e["channel"] for e in events],
        "order_id": [f"o{i}" if e["conv"] else None for i, e in enumerate(events)],
        "gmv": [e["gmv"] if e["conv"] else None for e in events],
        "currency": ["EUR" if e["conv"] else None for e in events],
    })


def as_dict(table):
    labels = table.path_labels()
    out = {}
    for lab, k, g, z in zip(labels, table.conversions, table.value, table.nulls):
        out[tuple(lab.split(" > "))] = [k, g, z]
    return out


TEXT_TIMES = [
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    lambda d: d.astimezone(timezone(timedelta(hours=2))).strftime("%Y-%m-%dT%H:%M:%S%z"),
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC"),
    lambda d: str(int(d.timestamp() * 1e6)),
    lambda d: " " + d.strftime("%Y-%m-%dT%H:%M:%SZ") + " ",
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%Sz"),  # these two are left to parse_time
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S\t+00:00"),
]
"""Forms of an event time as text: the compiled reader's layouts, then values it leaves unread."""


def as_text(df: pl.DataFrame, forms: list[int]) -> pl.DataFrame:
    """``df`` with its event times written as text, row i in ``TEXT_TIMES[forms[i % len(forms)]]``, and
    its event types and labels padded with spaces on every third row (the checks trim them)."""
    times = [TEXT_TIMES[forms[i % len(forms)]](d) for i, d in enumerate(df.get_column("event_time").to_list())]
    pad = pl.Series([i % 3 == 0 for i in range(len(df))])
    return df.with_columns(
        pl.Series("event_time", times, dtype=pl.Utf8),
        pl.when(pad).then(pl.lit(" ") + pl.col("event_type")).otherwise(pl.col("event_type")).alias("event_type"),
        pl.when(pad).then(pl.col("channel") + pl.lit(" ")).otherwise(pl.col("channel")).alias("channel"))


def compare(events, lookback_days=30.0, period=None, forms=None):
    source = frame(events) if forms is None else as_text(frame(events), forms)
    table, _ = load(source, lookback_days=lookback_days, period=period)
    lo, hi = period_bounds(period) if period else (None, None)
    expected = naive.journeys(events, int(lookback_days * DAY), lo, hi)
    got = as_dict(table)
    assert set(got) == set(expected)
    for key in expected:
        assert_allclose(got[key], expected[key], rtol=1e-12)
    return table


def ev(user, t, conv=False, channel=None, gmv=0.0):
    return {"user": user, "t": t, "conv": conv, "channel": channel, "gmv": gmv}


def test_touch_at_same_instant_as_conversion_comes_first():
    events = [ev("u", T0 + DAY, True, gmv=10.0), ev("u", T0 + DAY, channel="a"), ev("u", T0, channel="b")]
    table = compare(events)
    assert as_dict(table) == {("b", "a"): [1.0, 10.0, 0.0]}


def test_same_instant_touches_keep_input_order():
    events = [ev("u", T0, channel="z"), ev("u", T0, channel="a"), ev("u", T0 + 1, True, gmv=1.0)]
    assert as_dict(compare(events)) == {("z", "a"): [1.0, 1.0, 0.0]}


def test_lookback_boundary_is_inclusive():
    events = [ev("u", T0, channel="old"), ev("u", T0 + 1, channel="edge"), ev("u", T0 + 1 + 30 * DAY, True, gmv=5.0)]
    table, report = load(frame(events))
    assert as_dict(table) == {("edge",): [1.0, 5.0, 0.0]}
    assert report.journeys["touches_dropped_lookback"] == 1


def test_direct_and_tail_and_second_conversion():
    events = [ev("u1", T0 + 2 * DAY, True, gmv=7.0),  # no touch: (direct)
              ev("u2", T0, channel="a"), ev("u2", T0 + DAY, True, gmv=3.0),
              ev("u2", T0 + 2 * DAY, channel="b"), ev("u2", T0 + 3 * DAY, True, gmv=4.0),
              ev("u2", T0 + 4 * DAY, channel="c")]  # tail: non-converting
    table = compare(events)
    assert as_dict(table) == {("(direct)",): [1.0, 7.0, 0.0], ("a",): [1.0, 3.0, 0.0], ("b",): [1.0, 4.0, 0.0],
                              ("c",): [0.0, 0.0, 1.0]}
    assert table.stats["direct_conversions"] == 1


def test_period_boundaries():
    sep = T0 - 5 * DAY
    events = [ev("u", sep, channel="a"), ev("u", sep + DAY, True, gmv=1.0),  # September conversion: not attributed
              ev("u", sep + 2 * DAY, channel="b"), ev("u", T0, True, gmv=2.0),  # first instant of October
              ev("v", T0 - DAY, channel="c"), ev("v", T0 + 31 * DAY, True, gmv=9.0),  # November conversion
              ev("w", T0 + 30 * DAY, channel="d")]  # tail inside October
    table = compare(events, period="2026-10")
    assert as_dict(table)[("b",)] == [1.0, 2.0, 0.0]
    assert table.stats["conversions_before_period"] == 1 and table.stats["events_after_period"] == 1


def test_identical_journeys_are_merged():
    events = [ev(f"u{i}", T0 + i, channel="a") for i in range(5)] + \
             [ev(f"u{i}", T0 + DAY + i, True, gmv=float(i)) for i in range(5)]
    table = compare(events)
    assert table.n_paths == 1 and table.conversions[0] == 5 and table.value[0] == 10.0


event_strategy = st.lists(
    st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]), st.integers(-40, 70),
              st.booleans(), st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 500)),
    min_size=1, max_size=40)


@settings(max_examples=120, deadline=None)
@given(rows=event_strategy, lookback=st.sampled_from([1.0, 3.0, 30.0]),
       period=st.sampled_from([None, "2026-10", "2026-11"]), shuffle_seed=st.integers(0, 1000),
       forms=st.lists(st.integers(0, len(TEXT_TIMES) - 1), min_size=1, max_size=5))
def test_random_events_against_naive(rows, lookback, period, shuffle_seed, forms):
    # times on a coarse grid (half days) so that ties are frequent
    events = [ev(u, T0 + t * DAY // 2, conv, None if conv else ch, float(g)) for u, t, conv, ch, g in rows]
    compare(events, lookback_days=lookback, period=period)
    # the same events with their times as text in mixed forms (some left unread by the compiled
    # reader) and padded types and labels: the same journeys
    compare(events, lookback_days=lookback, period=period, forms=forms)
    # shuffling rows changes nothing except the order of same-instant events, which the rule fixes:
    # keep same-instant groups in their relative order by shuffling only across distinct instants
    rng = np.random.default_rng(shuffle_seed)
    keys = sorted({e["t"] for e in events})
    order = {t: rng.random() for t in keys}
    shuffled = sorted(events, key=lambda e: order[e["t"]])
    compare(shuffled, lookback_days=lookback, period=period)


def test_period_must_be_a_month():
    with pytest.raises(ValueError, match="YYYY-MM"):
        load(frame([ev("u", T0, True, gmv=1.0)]), period="2026-13")


def test_period_bounds_edges():
    from datetime import date

    from shapley_attr.finance.contracts import period_days
    from shapley_attr.journeys import period_bounds

    start, end = period_bounds("9999-12")  # datetime has no year 10000: the end is the start plus 31 days
    assert start == 253399622400000000 and end - start == 31 * DAY_US
    assert period_days("9999-12") == (date(9999, 12, 1), date(9999, 12, 31))
    assert period_bounds("2024-02")[1] - period_bounds("2024-02")[0] == 29 * DAY_US
    assert period_bounds("1970-01") == (0, 31 * DAY_US)
    for bad in ("0000-01", "2026-00", "\u0662\u0660\u0662\u0666-10", "2026-10\n", "2026-1", "+202-10"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            period_bounds(bad)


DAY_US = 86_400_000_000


def test_keep_ages_for_time_decay():
    events = [ev("u", T0, channel="a"), ev("u", T0 + DAY, channel="a"), ev("u", T0 + 2 * DAY, True, gmv=1.0)]
    table, _ = load(frame(events), model="time-decay")
    assert_allclose(table.ages, [2 * 86400.0, 86400.0])


def test_real_paths_file_reads_unchanged(real_paths_file):
    table, report = load(real_paths_file)
    assert report.kind == "paths" and report.reconciliation.rows_read == 10_000 and report.reconciliation.rows_rejected == 0
    assert table.n_channels == 12
    assert_allclose(table.conversions.sum(), 19_785)
    assert round(float(table.value.sum()), 3) == 74_802.972  # PROVENANCE.md gives it to 3 decimals
    assert_allclose(table.nulls.sum(), 68_602)
    assert table.lengths.max() == 89


def test_column_mapping_from_foreign_names():
    df = frame([ev("u", T0, channel="a"), ev("u", T0 + 1, True, gmv=2.5)]).rename({"user_id": "cust", "gmv": "revenue"})
    table, _ = load(df, columns={"user_id": "cust", "gmv": "revenue"})
    assert as_dict(table) == {("a",): [1.0, 2.5, 0.0]}


def test_hash_collision_falls_back_to_the_ids():
    """Two users whose first 64-bit hashes collide are still told apart (by the second hash check):
    ordered and cut by their ids, with the pilot scope and the conversion ordinals of the fast way."""
    from types import SimpleNamespace

    import numpy as np
    import polars as pl

    from shapley_attr.config import JourneyParams
    from shapley_attr.journeys import _journeys_of_users

    df = pl.DataFrame({"_h": pl.Series([7, 7, 7, 7, 7], dtype=pl.UInt64),
                       "_h2": pl.Series([1, 2, 1, 2, 2], dtype=pl.UInt64),
                       "t": [0, 0, 5, 5, 9], "is_conversion": [False, False, True, True, True],
                       "code": pl.Series([0, 1, -1, -1, -1], dtype=pl.Int32)})
    ids = pl.Series(["u2", "u1", "u2", "u1", "u1"])
    events = SimpleNamespace(accepted=df, user_ids=lambda: ids)
    for scope, kept in ((np.empty(0, np.bool_), [1, 2, 0]), (np.array([True, True, False]), [1, 0])):
        users, (off, codes, _, conv, val, nul, source), stats = _journeys_of_users(
            events, np.array([1, 0], np.int32), np.array([2.5, 4.0, 1.5]), scope, JourneyParams(), 2, True, False)
        # u1 (touch code 1 -> 0, conversion ordinal 1; then a direct conversion, ordinal 2), u2 (ordinal 0)
        expected = {1: ([0], 4.0), 2: ([2], 1.5), 0: ([1], 2.5)}
        assert users == 2 and source.tolist() == kept
        assert [codes[off[j]:off[j + 1]].tolist() for j in range(len(conv))] == [expected[k][0] for k in kept]
        assert val.tolist() == [expected[k][1] for k in kept]
        assert conv.dtype == np.bool_ and conv.tolist() == [True] * len(kept) and not nul.any()


def test_records_of_chunks_equal_the_records_of_the_whole():
    """Rows given in chunks (the validation's batches, freed one by one as they are scattered) become
    the records of the same rows given whole, to the bit; empty chunks included."""
    import numpy as np

    from shapley_attr.kernels.ordering import _records_of_chunks, _user_records

    rng = np.random.default_rng(23)
    for trial in range(10):
        n = int(rng.integers(0, 3000))
        h = rng.integers(0, 2**64, n, dtype=np.uint64)
        h2 = rng.integers(0, 2**64, n, dtype=np.uint64)
        t = rng.integers(0, 10**12, n).astype(np.int64)
        is_conv = rng.random(n) < 0.3
        code = np.where(is_conv, -1, rng.integers(-1, 4, n)).astype(np.int32)
        remap = rng.permutation(4).astype(np.int32)
        cuts = np.sort(rng.integers(0, n + 1, int(rng.integers(0, 6))))
        bounds = [0, *cuts.tolist(), n]
        chunks = [tuple(a[lo:hi].copy() for a in (h, h2, t, is_conv, code)) for lo, hi in zip(bounds, bounds[1:])]
        rec, starts = _records_of_chunks(chunks, remap)
        whole, whole_starts = _user_records(h, h2, t, is_conv, code, remap)
        assert all(c is None for c in chunks)  # each chunk let go once scattered
        assert np.array_equal(rec, whole) and np.array_equal(starts, whole_starts), trial


def test_journeys_in_the_order_kernel_equal_order_then_cut():
    """The cut inside the order kernel (each bucket of users cut, then moved to its place) gives
    the journeys of the whole order followed by the whole cut, to the bit: random users (a third
    sharing their hash's high 32 bits, one with many rows), periods, lookbacks, pilot scope, ages and
    sources; on one thread as on all."""
    import numba
    import numpy as np

    from shapley_attr.kernels.cut import _cut_journeys
    from shapley_attr.kernels.ordering import _sorted_journeys, _user_records, _user_time_order

    rng = np.random.default_rng(17)
    for trial in range(30):
        n_users = int(rng.integers(1, 50 if trial < 10 else 3000))
        users = rng.integers(0, 2**63, n_users, dtype=np.uint64)
        users[: n_users // 3] = (users[: n_users // 3] & np.uint64(0xFFFF)) | np.uint64(0xABCD) << np.uint64(32)
        n = int(rng.integers(0 if trial == 0 else 1, 5000))
        pick = rng.integers(0, n_users, n)
        pick[: n // 5] = 0
        h = users[pick]
        t = rng.integers(0, 40, n).astype(np.int64) * 1_000_000
        is_conv = rng.random(n) < 0.25
        code = np.where(is_conv, -1, rng.integers(-1, 6, n)).astype(np.int32)
        remap = rng.permutation(6).astype(np.int32)
        n_conv = int(is_conv.sum())
        gmv = rng.random(n_conv)
        scope = rng.random(n_conv) < 0.8 if trial % 3 == 1 else np.empty(0, np.bool_)
        lookback = int(rng.integers(0, 30)) * 1_000_000
        period = (int(rng.integers(-1, 15)) * 1_000_000, int(rng.integers(15, 45)) * 1_000_000)
        keep_ages, keep_source = bool(trial % 2), bool(trial % 4 < 2)
        args = (lookback, *period, np.int32(6), keep_ages, keep_source)

        perm = np.empty(n, dtype=np.int32)
        new_user, _, t_o, c_o, k_o, g_o = _user_time_order(h, ~h, t, is_conv, code, remap, gmv, perm)
        ordinal = np.cumsum(is_conv) - 1
        per_event = np.ones(n, np.bool_) if len(scope) else scope
        if len(scope):
            per_event[is_conv] = scope
        *expected, st = _cut_journeys(new_user, t_o, c_o, k_o, g_o, per_event[perm] if len(scope) else scope, *args)
        if keep_source:
            expected[6] = np.where(expected[6] >= 0, ordinal[perm[np.maximum(expected[6], 0)]], -1)
        assert set(expected[3].tolist()) <= {0.0, 1.0} and set(expected[5].tolist()) <= {0.0, 1.0}
        expected[3], expected[5] = expected[3] == 1, expected[5] == 1  # the order kernel's flags: bool

        for threads in (numba.get_num_threads(), 1) if trial == 29 else (numba.get_num_threads(),):
            before = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                records, starts = _user_records(h, ~h, t, is_conv, code, remap)
                collided, n_users_seen, got, stats = _sorted_journeys(records, starts, gmv, scope, *args)
            finally:
                numba.set_num_threads(before)
            assert not collided and n_users_seen == int(new_user.sum())
            assert stats.tolist() == st.tolist(), trial
            for a, b in zip(got, expected):
                assert a.dtype == b.dtype and a.tolist() == b.tolist(), trial


def test_user_time_order_kernel_against_a_lexsort():
    """The compiled ordering equals a stable sort by (hash, key, input row): users sharing the high
    32 bits of their hash, users with more than 32 rows out of order, and equal keys included."""
    import numpy as np

    from shapley_attr.kernels.ordering import _user_time_order

    rng = np.random.default_rng(5)
    for trial in range(20):
        n_users = int(rng.integers(1, 60 if trial < 10 else 1500))  # then mostly users of a few rows
        users = rng.integers(0, 2**63, n_users, dtype=np.uint64)
        users[: n_users // 3] = (users[: n_users // 3] & np.uint64(0xFFFF)) | np.uint64(0xABCD) << np.uint64(32)
        n = int(rng.integers(1, 2000))
        pick = rng.integers(0, n_users, n)
        pick[: n // 4] = 0  # one user with many rows
        h = users[pick]
        h2 = h ^ np.uint64(0x5555)
        t = rng.integers(0, 20, n).astype(np.int64)
        is_conv = rng.random(n) < 0.3
        key = t * 2 + is_conv
        perm = np.empty(n, dtype=np.int32)
        code = np.where(is_conv, -1, rng.integers(0, 5, n)).astype(np.int32)
        remap = rng.permutation(5).astype(np.int32)
        gmv = rng.random(n)
        if trial % 2:  # read-only inputs (Polars' zero-copy views) take the same compiled version
            for a in (h, h2, t, is_conv, code, gmv):
                a.flags.writeable = False
        new_user, collision, t_o, c_o, k_o, g_o = _user_time_order(h, h2, t, is_conv, code, remap, gmv[is_conv],
                                                                   perm)
        expected = np.lexsort((np.arange(n), key, h))
        assert perm.tolist() == expected.tolist(), trial
        assert not collision
        assert (t_o == t[perm]).all() and (c_o == is_conv[perm]).all()
        assert (g_o == np.where(is_conv[perm], gmv[perm], 0.0)).all()  # a touch's value is never read
        assert (k_o == np.where(code[perm] >= 0, remap[np.maximum(code[perm], 0)], -1)).all()
        hs = h[perm]
        assert new_user.tolist() == [True] + (hs[1:] != hs[:-1]).tolist()
    same = np.array([9, 3, 9], dtype=np.uint64)
    assert _user_time_order(same, np.array([1, 1, 2], dtype=np.uint64), np.zeros(3, np.int64), np.zeros(3, np.bool_),
                            np.zeros(3, np.int32), np.zeros(1, np.int32), np.zeros(3), np.empty(3, np.int32))[1]


def test_event_time_forms_read_alike():
    """ISO text (zones, ``T`` or space, BigQuery's `` UTC``), epoch numbers in s / ms / µs / ns as
    integers or digit text (GA4's ``event_timestamp``) all give the same instant; junk is null."""
    import polars as pl

    from shapley_attr.io.events import parse_time

    us = 1_727_740_800_000_000  # 2024-10-01T00:00:00Z
    texts = pl.DataFrame({"t": ["2024-10-01T00:00:00Z", "2024-10-01 02:00:00+02:00", "2024-10-01 00:00:00 UTC",
                                "2024-10-01T00:00", "1727740800", "1727740800000", "1727740800000000",
                                "1727740800000000000", "yesterday", "20241001"]})
    got = texts.select(parse_time(pl.Utf8, "t")).to_series().to_list()
    assert got == [us] * 8 + [None, None]
    for scale in (1, 1_000, 1_000_000, 1_000_000_000):
        ints = pl.DataFrame({"t": [1_727_740_800 * scale + 7 * scale]})
        assert ints.select(parse_time(ints.schema["t"], "t")).item() == us + 7_000_000
    # a decimal epoch (battery 5 C7: refused as text that is no timestamp), fractions to the µs
    from decimal import Decimal

    decimals = pl.DataFrame({"t": [Decimal("1727740807.000"), Decimal("1727740807.123456"),
                                   Decimal("1727740807123.456")]}, schema={"t": pl.Decimal(24, 6)})
    assert decimals.select(parse_time(decimals.schema["t"], "t")).to_series().to_list() == [
        us + 7_000_000, us + 7_123_456, us + 7_123_456]


def test_user_time_order_same_on_any_thread_count():
    """The parallel radix passes and per-user pass give one order whatever the thread count."""
    import numba
    import numpy as np

    from shapley_attr.kernels.ordering import _user_time_order

    rng = np.random.default_rng(11)
    n = 50_000
    h = rng.integers(0, 2**63, 3_000, dtype=np.uint64)[rng.integers(0, 3_000, n)]
    t = rng.integers(0, 100, n).astype(np.int64)
    is_conv = rng.random(n) < 0.1
    results = []
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            perm = np.empty(n, dtype=np.int32)
            new_user = _user_time_order(h, h ^ np.uint64(1), t, is_conv, np.zeros(n, np.int32), np.zeros(1, np.int32),
                                        np.zeros(n), perm)[0]
            results.append((perm.copy(), new_user.copy()))
    finally:
        numba.set_num_threads(before)
    expected = np.lexsort((np.arange(n), t * 2 + is_conv, h))
    for perm, new_user in results:
        assert perm.tolist() == expected.tolist()
        assert int(new_user.sum()) == len(np.unique(h))


def test_paths_are_in_a_content_fixed_order_whatever_the_row_order(tmp_path, monkeypatch):
    """Shuffled rows, duplicated paths and even colliding keys give the same table, values merged
    exactly (the canonical order every engine hands to the models)."""
    import numpy as np

    import shapley_attr.frames as frames

    rows = ["a > b,1,10.5,2", "b,2,3.25,1", "a > b,1,0.25,0", "c > a > b,0,0,4", "b > c,1,7,0", "a,0,0,3"]
    header = "path,total_conversions,total_conversion_value,total_null\n"
    (tmp_path / "x.csv").write_text(header + "\n".join(rows) + "\n")
    (tmp_path / "y.csv").write_text(header + "\n".join(reversed(rows)) + "\n")
    x, _ = load(tmp_path / "x.csv")
    y, _ = load(tmp_path / "y.csv")
    for name in ("offsets", "codes", "conversions", "value", "nulls"):
        np.testing.assert_array_equal(getattr(x, name), getattr(y, name))
    assert sorted(x.path_labels()) == ["a", "a > b", "b", "b > c", "c > a > b"]
    ab = x.path_labels().index("a > b")
    assert (x.conversions[ab], x.value[ab], x.nulls[ab]) == (2.0, 10.75, 2.0)
    monkeypatch.setattr(frames, "sequence_keys", lambda t: np.zeros(t.n_paths, dtype=np.uint64))  # all collide
    z, _ = load(tmp_path / "y.csv")
    w, _ = load(tmp_path / "x.csv")
    assert z.path_labels() == w.path_labels() and z.value.tolist() == w.value.tolist()
    assert sorted(z.path_labels()) == sorted(x.path_labels())


def test_journeys_merge_in_canonical_order_by_one_sort(monkeypatch):
    """The events path's merge (one sort by content key, runs checked and summed) gives the table of
    the general way (hash merge, then canonical order) to the bit: values, per-path journey values
    and order, with paths whose codes the content word holds and paths it hashes (long, or many
    channels); also when keys collide (all equal: the content words differ within the run, the
    general way is taken) and when the rows are not single journeys."""
    import numpy as np

    import shapley_attr.kernels.ordering as ordering
    from shapley_attr.frames import PathTable, canonical_order, merge_identical_paths
    from shapley_attr.journeys import merged_in_canonical_order

    rng = np.random.default_rng(8)
    fields = ("offsets", "codes", "conversions", "value", "nulls", "value_offsets", "journey_values")
    for trial in range(30):
        m = int(rng.integers(0, 3000))
        # up to 4 codes of 6 channels (all packed), up to 30 codes (12 fit a word), 5000 channels (4 fit)
        lengths = rng.integers(0 if trial % 3 else 1, (5, 30, 6)[trial % 3], m)
        offsets = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        channels = tuple("abcdef") if trial % 3 < 2 else tuple(f"c{i}" for i in range(5000))
        codes = rng.integers(0, (1 + trial % 6, 2, 5000)[trial % 3], int(offsets[-1])).astype(np.int32)
        conv = (rng.random(m) < 0.4).astype(np.float64)
        nulls = 1.0 - conv
        if trial % 5 == 0:
            nulls[rng.random(m) < 0.1] = 0.0  # neither converting nor null
        value = np.round(conv * rng.random(m) * 1000, int(rng.integers(0, 8)))
        journeys = PathTable(offsets, codes, conv, value, nulls, channels)
        for keep in (False, True):
            expected = canonical_order(merge_identical_paths(journeys, exact_value=True, keep_values=keep))
            got = merged_in_canonical_order(journeys, keep_values=keep)
            for f in fields:
                a, b = getattr(expected, f), getattr(got, f)
                assert (a is None and b is None) or (a.dtype == b.dtype and np.array_equal(a, b)), (trial, keep, f)
    half = PathTable(offsets, codes, conv * 0.5, value, nulls, channels)  # not single journeys
    assert np.array_equal(merged_in_canonical_order(half).conversions,
                          canonical_order(merge_identical_paths(half, exact_value=True)).conversions)
    compiled = ordering._keys_and_contents
    monkeypatch.setattr(ordering, "_keys_and_contents", lambda o, c, bits: (
        np.zeros(len(o) - 1, dtype=np.uint64), compiled(o, c, bits)[1]))
    collided = merged_in_canonical_order(journeys, keep_values=True)
    monkeypatch.setattr(ordering, "_keys_and_contents", compiled)
    assert sorted(collided.path_labels()) == sorted(expected.path_labels())
    assert np.array_equal(np.sort(collided.value), np.sort(expected.value))
    # keys shared by pairs of journeys, in reverse order: the sort moves every journey before the run of
    # differing contents sends it the general way, which must read the journeys as given, not as sorted
    m = journeys.n_paths
    monkeypatch.setattr(ordering, "_keys_and_contents", lambda o, c, bits: (
        ((m - 1 - np.arange(m)) // 2).astype(np.uint64), compiled(o, c, bits)[1]))
    reordered = merged_in_canonical_order(journeys, keep_values=True)
    monkeypatch.setattr(ordering, "_keys_and_contents", compiled)
    for f in fields:
        a, b = getattr(expected, f), getattr(reordered, f)
        assert a.dtype == b.dtype and np.array_equal(a, b), f


def test_compiled_sequence_keys_equal_numpy():
    """The events path orders paths with the compiled keys, the paths reader with NumPy's: the same
    64-bit values (so both engines and both inputs hand the models one table)."""
    import numpy as np

    from shapley_attr.frames import PathTable, sequence_keys
    from shapley_attr.kernels.sequences import _sequence_keys

    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 40, 500)
    lengths[:3] = [0, 1, 200]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = rng.integers(0, 3000, int(offsets[-1])).astype(np.int32)
    n = len(lengths)
    table = PathTable(offsets, codes, np.zeros(n), np.zeros(n), np.ones(n), tuple(f"c{i}" for i in range(3000)))
    np.testing.assert_array_equal(_sequence_keys(offsets, codes), sequence_keys(table))


def test_preload_imports_kernels_in_the_background():
    """The kernel preload imports the modules in a daemon thread, once; a module that cannot be
    imported is left for the caller's own import to report (the thread ends quietly)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from shapley_attr.kernels.preload import preload\n"
            "t = preload(('shapley_attr.kernels.subset_exact', 'no_such_module_xyz'))\n"
            "assert t is not None and t.daemon\n"
            "t.join(120)\n"
            "assert 'shapley_attr.kernels.subset_exact' in sys.modules\n"
            "assert preload(('shapley_attr.kernels.subset_exact',)) is None\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
