"""The compiled ISO 8601 reader (``kernels.timeparse`` through ``views.read_times``) against
``io.events.parse_time``, the contract's parser: every value the reader reads has parse_time's
instant, and the common layouts are read (else the fast path would silently never run)."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shapley_attr.io import views
from shapley_attr.io.events import _parse_text_time


def reference(values: list) -> list:
    return _parse_text_time(pl.Series(values, dtype=pl.Utf8)).to_list()


def read(series: pl.Series, scratch=None):
    t = np.full(len(series), -7, dtype=np.int64)
    ok = np.zeros(len(series), dtype=np.bool_)
    scratch = views.read_times(series, t, ok, _parse_text_time, scratch)
    return t, ok, scratch


READ = ["2026-10-01", "2026-10-01T10:00", "2026-10-01 10:00", "2026-10-01T10:00Z", "2026-10-01T10:00:05",
        "2026-10-01 10:00:05", "2026-10-01T10:00:05Z", "2026-10-01 10:00:05Z", "2026-10-01T10:00:05.1Z",
        "2026-10-01T10:00:05.123456789+02:00", "2026-10-01T10:00:05.806306+0000", "2026-10-01T10:00:05-09:30",
        "2026-10-01 10:00:05 UTC", "2026-10-01 10:00:05UTC", "2026-10-01T10:00 UTC", "2026-10-01T10:00:05.5   UTC",
        "2024-02-29T00:00:00Z", "2000-02-29", "0000-03-01T00:00:00Z", "0001-01-01", "9999-12-31T23:59:59.999999Z",
        "1969-12-31T23:59:59.9999999Z", "1969-12-31T23:59:59.5+01:00", "2026-01-01T00:00:00+23:59",
        "2026-12-31T23:59:59-23:59", "2026-10-01 10:00:05.806306+00", "2026-10-01T10:00:05 +02:00",
        "2026-10-01 10:00:05  Z", "2026-10-01T10:00+02", "2026-10-01T10:00:05-05", "2026-10-01 10:00:05 -0930",
        "1700000000", "170000000", "-1700000000", "000000001", "1700000000123",
        "1700000000123456", "1700000000123456789", "1700000000123456500", "1700000000123455500", "99999999999",
        "100000000000", "99999999999999", "100000000000000", "99999999999999999", "100000000000000000",
        "9223372036854775807", "0000000000000000000000001", "-000000000", "123456789", "-123456789",
        " 2026-10-01T10:00:05Z", "2026-10-01T10:00:05Z ", "\t2026-10-01 10:00:05 UTC \r\n", "  2026-10-01  ",
        "1700000000 ", " -1700000000\t", "\x0b2026-10-01T10:00:05.5+02:00\x0c", " " * 20 + "2026-10-01T10:00Z" + " " * 20,
        "2026-10-01 10:00Z", "2026-10-01 10:00 UTC", "2026-10-01 10:00 +02", "2026-10-01 10:00-05:30"]
"""Values in the reader's subset: read, with parse_time's instant (epoch digits: float64 rounding and
the unit's thresholds included; ASCII white space around a value)."""

LEFT = ["2026-10-01t10:00:05Z", "2026-10-01T10:00:05z", "\u00a02026-10-01T10:00:05Z", "2026-10-01T10:00:05Z\u3000",
        "2026-10-01T10:00:60Z", "2026-10-01T24:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29", "2026-04-31",
        "2026-13-01", "2026-00-01", "2026-10-00", "2026-10-1", "2026-1-01", "26-10-01", "+2026-10-01",
        "12026-10-01", "2026-10-01T10:00:05+2", "2026-10-01T10:00:05\t+02:00", 
        "2026-10-01T10:00:05+2:00", "2026-10-01T10:00:05+023", "2026-10-01T10:00:05+24", "2026-10-01T10:00:05+24:00", "2026-10-01T10:00:05+00:60",
        "2026-10-01T10:00:05.Z", "2026-10-01T10:00:05.1234567891Z", "2026-10-01T10:00:05,5Z",
         "2026-10-01T10", "2026-10-01T10:0", "2026-10-01T10:00:5",
        "17000000", "-0", "+1700000000", "1700000000.5", "9223372036854775808", "12345678901234567890",
        "\x1c1700000000", "- 1700000000", "2026-10-01 T10:00:05Z", "-", "yesterday", "", "２０２６-10-01", "2026-10-01T10:00:05GMT",
        "2026-10-01T10:00:05+00:00:00", "2026-10-01T10:00:05Z+00:00", "2026-10-01T10:00:05.5 UTC x"]
"""Values outside the subset (parse_time reads some of them: those rows take its way)."""


def test_reads_the_subset_with_parse_times_instants():
    t, ok, _ = read(pl.Series(READ))
    assert ok.all(), [v for v, o in zip(READ, ok) if not o]
    assert t.tolist() == reference(READ)


def test_leaves_everything_else_unread():
    t, ok, _ = read(pl.Series(LEFT))
    assert not ok.any(), [v for v, o in zip(LEFT, ok) if o]
    assert (t == 0).all()
    # some of them are times all the same: those rows are parsed by parse_time (the checks' way)
    assert any(v is not None for v in reference(LEFT))


def test_nulls_are_unread_and_chunks_and_slices_line_up():
    values = READ + [None] + LEFT + [None]
    series = pl.concat([pl.Series(values[:9]), pl.Series(values[9:30]), pl.Series(values[30:])], rechunk=False)
    assert series.n_chunks() == 3
    t, ok, scratch = read(series)
    expected = reference(values)
    for v, got, o, want in zip(values, t, ok, expected):
        assert (not o) or got == want, v
    assert ok.tolist() == [v in READ for v in values]
    sliced = pl.Series(values)[5:40]
    t2, ok2, _ = read(sliced, scratch)  # the scratch of a larger read is reused
    assert ok2.tolist() == [v in READ for v in values[5:40]]
    assert [x for x, o in zip(t2, ok2) if o] == [w for v, w in zip(values[5:40], expected[5:40]) if v in READ]


def test_a_chunk_without_views_is_parsed_by_polars(monkeypatch):
    monkeypatch.setattr(views, "_times_from_views", lambda part, t, ok, scratch: (False, scratch))
    values = READ[:4] + ["2026-10-01T10:00:05 Z", None, "nonsense"]
    t, ok, _ = read(pl.Series(values))
    expected = reference(values)
    assert ok.tolist() == [e is not None for e in expected]
    assert t.tolist() == [e if e is not None else 0 for e in expected]


digit = st.sampled_from("0123456789")


def two(lo: int, hi: int):
    return st.integers(lo, hi).map(lambda v: f"{v:02d}")


def _stamp(y, m, d, sep, hh, mi, sec, frac, zone) -> str:
    return f"{y}-{m}-{d}" + ("" if sep is None else f"{sep}{hh}:{mi}{sec}{frac if sec else ''}{zone}")


stamp = st.builds(
    _stamp,
    st.one_of(st.integers(0, 9999).map(lambda v: f"{v:04d}"), st.sampled_from(["26", "20266", "+2026"])),
    st.one_of(two(0, 13), st.sampled_from(["1", "xx"])), st.one_of(two(0, 32), st.sampled_from(["1"])),
    st.sampled_from([None, "T", " ", "t", "_"]), st.one_of(two(0, 25), st.sampled_from(["1"])), two(0, 61),
    st.one_of(st.just(""), two(0, 61).map(lambda s: ":" + s), st.just(":5")),
    st.one_of(st.just(""), st.text(digit, min_size=0, max_size=12).map(lambda s: "." + s)),
    st.one_of(st.sampled_from(["", "Z", "z", " Z", "UTC", " UTC", "   UTC", " utc", "+02", "GMT", "\tZ", "+2"]),
              st.builds(lambda pad, s, h, m, colon: f"{pad}{s}{h}{colon}{m}", st.sampled_from(["", " ", "  ", "\t"]),
                        st.sampled_from("+-"), two(0, 25), st.one_of(two(0, 61), st.just("")),
                        st.sampled_from(["", ":"]))))


epoch = st.builds(lambda sign, digits: sign + digits, st.sampled_from(["", "", "-", "+", " "]),
                  st.one_of(st.integers(0, 2**64).map(str), st.text(digit, min_size=7, max_size=22)))


padding = st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\u00a0\u2003"), max_size=3)
padded = st.builds(lambda a, v, b: a + v + b, padding, st.one_of(stamp, epoch), padding)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(stamp, epoch, padded, st.text(max_size=40), st.none()), min_size=1, max_size=40))
def test_every_value_read_has_parse_times_instant(values):
    t, ok, _ = read(pl.Series(values, dtype=pl.Utf8))
    expected = reference(values)
    for v, got, o, want in zip(values, t, ok, expected):
        if o:
            assert got == want, v
        else:
            assert got == 0, v


@pytest.mark.parametrize("value", READ)
def test_read_inline_and_in_buffers(value):
    """Short values sit in the view itself (up to 12 bytes), longer ones in a data buffer: both read."""
    t, ok, _ = read(pl.Series([value, "x" * 13, value]))
    assert ok.tolist() == [True, False, True]
    assert t[0] == t[2] == reference([value])[0]


@settings(max_examples=200, deadline=None)
@example(["4612000001113404000", "-4612000001113404000", "4.612000001113404e+18"])
@given(st.lists(st.one_of(st.integers(-2**63 + 1, 2**63 - 1).map(str), st.floats(allow_nan=False).map(repr), epoch,
                          stamp), min_size=1, max_size=20))
def test_parse_time_of_a_value_does_not_depend_on_its_batch(values):
    """parse_time gives each value the same instant alone and among nulls (Polars once divided a
    column with nulls by a scalar as a product with its reciprocal: epoch nanoseconds moved by 1 µs
    with the batch they were read in), and the compiled reader agrees with both."""
    alone = [reference([v])[0] for v in values]
    assert reference(values) == alone
    assert reference([None, *values, None])[1:-1] == alone
    t, ok, _ = read(pl.Series([None, *values], dtype=pl.Utf8))
    assert all(got == want for got, o, want in zip(t[1:], ok[1:], alone) if o)
