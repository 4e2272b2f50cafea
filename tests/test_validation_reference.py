"""The validation of an events export against a slow, row-at-a-time reference of the contract.

Messy exports (padded values, blank user ids with ASCII and non-ASCII white space, times in many
forms: ISO 8601 with ``Z``/``z``/offsets/`` UTC``, ``T``/space/``t``, epoch digits, padded, leap
seconds, junk; padded and unknown event types; padded, blank and reserved labels; good and bad
money) are written to real files, CSV and Parquet, and read through the local engine's own path
(``readers.scan_input`` then ``validate_events(..., numbered=True, keep_others=is_csv_file(...))``,
as ``engines.local.load`` does), with small batches and a small kept-rows limit so that batch
boundaries and the kept rows' overflow are crossed. Compared, row by row: which rows are accepted
and which rejected; the column each reject names; every accepted row's user hashes, time (UTC epoch
µs), conversion flag and channel code; and the conversions' time, gmv, currency, country, margin and
order id.

Why the reference is independent: it shares no code with the validation (no ``validate_events``,
no ``_checks``, no first pass, no compiled time reader, no string views). It walks the rows one at a
time in plain Python, applying the checks of DATA.md in the order ``events._checks`` lists them, and
uses Polars only for the primitive operations that *define* the contract's rules: ``strip_chars``
(the whitespace rule, which is Rust's and not Python's ``str.strip``), ``hash`` (the user id's
hashes), the cast of text to Float64 (the decimal rule) and ``events.parse_time`` applied to one
value at a time (the contract's time rule; the compiled reader is only a faster route to its
results). An engine that accepts a row with a time or a hash other than what its raw values say
(e.g. the first pass's 0 for a time the compiled reader leaves unread, the bug fixed in 8122aef)
disagrees with it.

The raw values the engine sees are the reference's input: for CSV, the file read back with
``pl.read_csv(infer_schema=False)`` (CSV keeps no difference between a null and an empty text).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shapley_attr.config import ColumnMapping
from shapley_attr.io import events as ev
from shapley_attr.io.readers import ROW, is_csv_file, scan_input

DIRECT = "(direct)"
MAX_GMV = 1e12

USERS = ["u1", "u2", " u3", "u3", "", "   ", None, "\tu4", "ü5", "\u3000", "\u3000u6", "\u00a0", "\u2028u7", "ñ8",
         "\u0085", "\u0085u9", "\u1680", "\u200b", "\x1c", "\x1cu10", "a-user-id-longer-than-twelve",
         " a-padded-user-id-longer-than-twelve", "\u205f" * 7, "12345", "u\n11", "\n"]
"""User ids given and blank: Polars' (Rust's) White_Space, and characters that look blank but are not
(a zero-width space, an ASCII separator), short (inline in a string view) and long, with a line
break (quoted in the CSV)."""
TIMES = ["2026-10-01T10:00:00Z", "2026-10-02 11:30:00", "2026-10-01T10:00:00+02:00", "2026-10-01T10:00:00.5-09:30",
         "2026-10-01T10:00", "2026-10-01 10:00", "2026-10-01", "2026-10-01 10:00:05 UTC", "2026-10-01T10:00:05UTC",
         "2026-10-01T10:00:05.123456789+0530", "2026-10-01T10:00:05 +02:00", "2026-10-01T10:00+02",
         "1700000000", "1700000000123", "1700000000123456", "1700000000123456789", "-1700000000", "170000000",
         " 2026-10-03T09:00:00Z", "2026-10-03T09:00:00Z ", "\t2026-10-01 10:00:05 UTC ", "  2026-10-01  ",
         " 1700000000 ", "\u00a02026-10-01T10:00:05Z", "2026-10-01T10:00:05Z\u3000", "2026-10-01T10:00:05z",
         "2026-10-01t10:00:05Z", "2026-10-01T10:00:05\t+02:00", "2026-10-01T10:00:60Z", "2026-12-31T23:59:60Z",
         "2026-10-01T24:00:00Z", "2026-02-29T10:00:00Z", "2024-02-29T10:00:00Z", "2026-10-01T10:00:05,5Z",
         "2026-10-01 10:00 UTC", "2026-10-01 10:00Z", "17000000", "1700000000.5", "Oct 1, 2026", "yesterday",
         "", "  ", None, "2026-10-01T10:00:05GMT", "+1700000000", "2026-10-01T10:00:05Z\n",
         "2026-10-01T10:00:05Z\r\n", "2026-10-01\n10:00:05Z"]
"""Times the compiled reader reads and times it leaves to ``parse_time`` (which reads some of them:
white space beyond ASCII, a lower-case z, a tab before the offset, a leap second; not a lower-case t),
valid or not; line breaks inside a value (quoted in the CSV)."""
TYPES = ["touch", "touch", "conversion", " touch", "touch ", " touch ", "  touch", "\ttouch", "touch\u00a0",
         "\u3000conversion", "conversion\t", " conversion", "conversion ", "click", "Touch", "TOUCH", "", " ", None,
         "impression", " impression", "purchase", "purchase "]
LABELS = ["email", "search", " email", "email ", "", "  ", None, DIRECT, " (direct) ", "(Direct)", "display",
          "\u00a0seo", "\x1fseo", "seo", "partner:p1", "a,b", 'quote"d', "ü-label", "two\nlines", "\n"]
PARTNERS = [None, None, "", "p1", " p2 ", "  ", "\u3000p3"]
GMV = ["100.00", " 12.5 ", "-5", "-0", "abc", "", "  ", None, "1e13", "1e12", "0", "inf", "NaN", "1,5", "+7", ".5"]
CURRENCY = ["EUR", "EUR", " GBP ", "eur", "", None, "JPY", "EURO", "\u00a0USD", "US D", "  ", "GBP\n"]
ORDER = ["o1", "o2", "", None, " o1 ", "o3", "  ", "o2\t"]
COUNTRY = ["DE", " fr", "", None]
MARGIN = [None, "", "  ", "3.5", " -2 ", "abc", "1e13", "nan", "-1e12"]

MAPPINGS = [ColumnMapping(),
            ColumnMapping(touch_types=("touch", "impression"), conversion_types=("conversion", "purchase"),
                          currency="EUR")]
"""The default types, and two of each with a default currency (a blank currency cell then is EUR)."""


# --- the reference ---------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def trim(value: str | None) -> str | None:
    """The contract's trimming (Polars' ``strip_chars``: Unicode White_Space)."""
    return None if value is None else pl.Series([value], dtype=pl.Utf8).str.strip_chars().item()


@lru_cache(maxsize=None)
def instant(value: str | None) -> int | None:
    """The contract's time rule of one text value (UTC epoch µs, None where it is no time)."""
    frame = pl.DataFrame({"event_time": pl.Series([value], dtype=pl.Utf8)})
    return frame.select(ev.parse_time(pl.Utf8)).item()


@lru_cache(maxsize=None)
def user_hashes(value: str) -> tuple[int, int]:
    series = pl.Series([value], dtype=pl.Utf8)
    return series.hash(seed=0).item(), series.hash(seed=7919).item()


@lru_cache(maxsize=None)
def number(value: str | None) -> float | None:
    """A decimal cell: trimmed text read as Float64, None where it is not a number."""
    return None if value is None else pl.Series([value], dtype=pl.Utf8).str.strip_chars().cast(
        pl.Float64, strict=False).item()


@dataclass(frozen=True)
class Accepted:
    """An accepted row: the user id's two hashes, the time (UTC epoch µs), the type, a touch's label
    and a conversion's typed columns."""

    h: int
    h2: int
    t: int
    is_conversion: bool
    label: str | None  # a touch's trimmed label (None on conversions)
    gmv: float | None = None  # the conversions' typed columns
    currency: str | None = None
    country: str | None = None
    margin: float | None = None
    order_id: str | None = None  # None: absent, derived by the engine


@dataclass(frozen=True)
class Rejected:
    column: str
    value: str  # the value the reject shows: the raw text, trimmed where the check reads it trimmed


def label_of(row: dict) -> str | None:
    """A row's touch label: ``partner:<partner>`` when a partner is set, else the trimmed channel."""
    partner = trim(row.get("partner"))
    if partner:
        return "partner:" + partner
    return trim(row.get("channel"))


def check_row(row: dict, mapping: ColumnMapping) -> Accepted | Rejected:
    """One row against the contract's checks, in the order ``events._checks`` lists them."""
    user = row.get("user_id")
    if user is None or trim(user) == "":
        return Rejected("user_id", user or "")
    t = instant(row.get("event_time"))
    if t is None:
        return Rejected("event_time", row.get("event_time") or "")
    kind = trim(row.get("event_type"))
    is_touch = kind in mapping.touch_types
    is_conv = kind in mapping.conversion_types
    if not (is_touch or is_conv):
        return Rejected("event_type", kind or "")
    h, h2 = user_hashes(user)
    if is_touch:
        label = label_of(row)
        if label is None or label == "" or label == DIRECT:
            return Rejected("channel", label or "")
        return Accepted(h, h2, t, False, label)
    gmv = number(row.get("gmv"))
    if gmv is None or not math.isfinite(gmv) or gmv < 0 or gmv > MAX_GMV:
        return Rejected("gmv", row.get("gmv") or "")
    currency = trim(row.get("currency"))
    if mapping.currency and not currency:
        currency = mapping.currency
    if currency is None or re.fullmatch(r"[A-Z]{3}", currency) is None:
        return Rejected("currency", currency or "")
    margin_text = row.get("margin")
    margin = number(margin_text)
    if trim(margin_text):
        if margin is None or not math.isfinite(margin) or abs(margin) > MAX_GMV:
            return Rejected("margin", margin_text)
    order_id = trim(row.get("order_id")) or None
    return Accepted(h, h2, t, True, None, gmv, currency, trim(row.get("country")) or "", margin, order_id)


def reference(records: list[dict], mapping: ColumnMapping) -> dict[int, Accepted | Rejected]:
    """Every row's verdict by row number (1, 2, ...): the row checks, then the order ids (a given
    order id seen on an earlier accepted conversion is a reject naming ``order_id``; an absent one is
    derived, unique by its row)."""
    out: dict[int, Accepted | Rejected] = {}
    seen: set[str] = set()
    for number_, row in enumerate(records, start=1):
        verdict = check_row(row, mapping)
        if isinstance(verdict, Accepted) and verdict.is_conversion and verdict.order_id is not None:
            if verdict.order_id in seen:
                verdict = Rejected("order_id", verdict.order_id)
            else:
                seen.add(verdict.order_id)
        out[number_] = verdict
    return out


# --- the engine, as engines.local.load reads a file --------------------------------------------------
def validate_file(path: Path, mapping: ColumnMapping) -> ev.ValidatedEvents:
    lf, name = scan_input(str(path), mapping)
    return ev.validate_events(lf, name, mapping, numbered=True, keep_others=is_csv_file(str(path), mapping))


def engine_verdicts(got: ev.ValidatedEvents) -> dict[int, tuple]:
    """Every row's verdict as the engine gives it, shaped like the reference's (labels decoded)."""
    out: dict[int, tuple] = {}
    acc = got.accepted
    for number_, h, h2, t, conv, code in zip(got.row_numbers().tolist(), acc.get_column("_h").to_list(),
                                            acc.get_column("_h2").to_list(), acc.get_column("t").to_list(),
                                            acc.get_column("is_conversion").to_list(),
                                            acc.get_column("code").to_list()):
        label = None if code < 0 else got.channels[code]
        out[number_] = ("accepted", h, h2, t, conv, label, code)
    for number_, column, value, reason in got.rejects.select("row", "column", "value", "reason").iter_rows():
        assert number_ not in out, f"row {number_} both accepted and rejected"
        assert reason, f"row {number_} rejected without a reason"
        out[number_] = ("rejected", column, value)
    return out


def compare(records: list[dict], got: ev.ValidatedEvents, mapping: ColumnMapping) -> None:
    want = reference(records, mapping)
    assert got.rows_read == len(records)
    channels = list(got.channels)
    # the dictionary: sorted, distinct, no blank nor the reserved label, every accepted touch's label,
    # and only labels the export holds
    assert channels == sorted(set(channels))
    assert "" not in channels and DIRECT not in channels
    every_label = {label_of(r) for r in records}
    assert set(channels) <= every_label
    assert {v.label for v in want.values() if isinstance(v, Accepted) and not v.is_conversion} <= set(channels)

    have = engine_verdicts(got)
    assert sorted(have) == list(range(1, len(records) + 1))
    wrong = []
    for number_, verdict in want.items():
        if isinstance(verdict, Rejected):
            expected = ("rejected", verdict.column, verdict.value)
        else:
            code = -1 if verdict.is_conversion else channels.index(verdict.label)
            expected = ("accepted", verdict.h, verdict.h2, verdict.t, verdict.is_conversion, verdict.label, code)
        if have[number_] != expected:
            wrong.append((number_, records[number_ - 1], expected, have[number_]))
    assert not wrong, "engine against reference (row, raw values, expected, got):\n" + "\n".join(map(repr, wrong))

    # the accepted conversions, typed
    conv = {r[ROW]: r for r in got.conversions.iter_rows(named=True)}
    want_conv = {n: v for n, v in want.items() if isinstance(v, Accepted) and v.is_conversion}
    assert sorted(conv) == sorted(want_conv)
    derived = []
    for number_, v in want_conv.items():
        c = conv[number_]
        got_c = (c["t"], c["gmv"], c["currency"], c["country"], c["margin"])
        assert got_c == (v.t, v.gmv, v.currency, v.country, v.margin), (number_, records[number_ - 1])
        if v.order_id is None:
            derived.append(c["order_id"])
        else:
            assert c["order_id"] == v.order_id, (number_, records[number_ - 1])
    assert got.order_ids_derived == len(derived)
    assert all(derived) and len(set(derived)) == len(derived)
    assert len(set(conv[n]["order_id"] for n in conv)) == len(conv)


# --- the exports -----------------------------------------------------------------------------------
BASE = ("user_id", "event_time", "event_type", "channel", "gmv", "currency", "order_id", "country", "page_url")
VALUES = dict(user_id=USERS, event_time=TIMES, event_type=TYPES, channel=LABELS, gmv=GMV, currency=CURRENCY,
              order_id=ORDER, country=COUNTRY, page_url=["/home", "", None], partner=PARTNERS, margin=MARGIN)
CLEAN = dict(user_id=["u1", "u2", "u3", "ü5"], event_time=["2026-10-01T10:00:00Z", "2026-10-02 11:30:00.25"],
             event_type=["touch", "touch", "conversion"], channel=["email", "search", "seo"], gmv=["100.00", "0"],
             currency=["EUR"], order_id=[None, "o4", "o5", "o6"], country=["DE"], page_url=["/home"],
             partner=[None], margin=[None, "3.5"])
"""Clean values: rows that pass every check are common (see :func:`exports`), and every column's
messy values meet otherwise valid rows."""


PADDING = st.text(st.sampled_from(" \t\n\x0b\x0c\u00a0\u0085\u3000\u2028\u200b\x1c"), max_size=3)
"""White space around a value, ASCII and beyond, and two characters that only look like it (a
zero-width space and an ASCII separator are not White_Space: never trimmed)."""
JUNK = st.text(st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=14)
"""Any text a CSV holds as it is (no NUL byte, which the CSV check refuses, no lone CR)."""


def cell(column: str):
    """A column's value: clean, messy, a clean or messy value in random padding, or any text."""
    given = [v for v in CLEAN[column] + VALUES[column] if v]
    padded = st.builds(lambda before, v, after: before + v + after, PADDING, st.sampled_from(given), PADDING)
    return st.one_of(st.sampled_from(CLEAN[column]), st.sampled_from(VALUES[column]), padded, JUNK)


def exports(columns: tuple[str, ...]):
    """Rows messy in every column, or clean but for one column's value (any of :func:`cell`'s)."""
    messy = st.fixed_dictionaries({c: cell(c) for c in columns})
    clean = st.fixed_dictionaries({c: st.sampled_from(CLEAN[c]) for c in columns})
    one_off = st.sampled_from(columns).flatmap(lambda c: st.builds(lambda row, v: {**row, c: v}, clean, cell(c)))
    row = st.one_of(messy, one_off)
    # a size drawn first: Hypothesis' own lists are mostly short, and batch boundaries need rows
    return st.integers(0, 60).flatmap(lambda n: st.lists(row, min_size=n, max_size=n))


def spaced(records: list[dict], columns: tuple[str, ...]) -> list[dict]:
    """As an export written with ', ' between its fields: every given value but the first column's
    starts with a space."""
    return [{c: (v if v is None or c == columns[0] else " " + v) for c, v in r.items()} for r in records]


def write_csv(records: list[dict], columns: tuple[str, ...], path: Path) -> list[dict]:
    """The export as CSV; returns the raw rows as the engine sees them (read back as text)."""
    pl.DataFrame(records, schema={c: pl.Utf8 for c in columns}).write_csv(path)
    back = pl.read_csv(path, infer_schema=False)
    assert back.columns == list(columns) and len(back) == len(records)
    return back.to_dicts()


def write_parquet(records: list[dict], columns: tuple[str, ...], path: Path, row_group: int | None) -> list[dict]:
    """The export as Parquet, every column text (nulls and empty texts kept apart); returns its rows."""
    pl.DataFrame(records, schema={c: pl.Utf8 for c in columns}).write_parquet(path, row_group_size=row_group)
    return records


@pytest.fixture
def small_batches(monkeypatch):
    def set_sizes(batch: int, kept: int) -> None:
        monkeypatch.setattr(ev, "BATCH_ROWS", batch)
        monkeypatch.setattr(ev, "WIDE_BATCH_ROWS", batch)
        monkeypatch.setattr(ev, "KEPT_ROWS", kept)  # small: the kept rows are dropped and read again
    return set_sizes


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), extra=st.sampled_from([(), ("partner",), ("margin",), ("partner", "margin")]),
       mapping=st.sampled_from(MAPPINGS), pad=st.booleans(), batch=st.sampled_from([3, 7, 2_000_000]),
       kept=st.sampled_from([2, 2_000_000]), row_group=st.sampled_from([5, None]))
def test_validation_equals_the_reference(data, extra, mapping, pad, batch, kept, row_group, tmp_path, small_batches):
    columns = BASE + extra
    records = data.draw(exports(columns))
    if pad:
        records = spaced(records, columns)
    small_batches(batch, kept)
    csv_rows = write_csv(records, columns, tmp_path / "events.csv")
    compare(csv_rows, validate_file(tmp_path / "events.csv", mapping), mapping)
    parquet_rows = write_parquet(records, columns, tmp_path / "events.parquet", row_group)
    compare(parquet_rows, validate_file(tmp_path / "events.parquet", mapping), mapping)


UNREAD = [" 2026-10-01T10:00:05z", "2026-10-01T10:00:05\t+02:00", "2026-10-01T10:00:60Z", "\u00a02026-10-01T10:00:05Z",
          "2026-10-01T10:00:05Z\u3000", "2026-12-31T23:59:60Z"]
"""Times of touches the compiled reader may leave unread (each a time all the same)."""


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
@pytest.mark.parametrize("batch", [2, 2_000_000])
def test_touches_with_times_the_reader_leaves_unread(suffix, batch, tmp_path, small_batches):
    """Plain and not-plain touches (padded type, id starting with white space, unread time) before a
    conversion: every accepted row has its own raw values' time and hashes, never 0."""
    rows = []
    for i, time in enumerate(UNREAD):
        rows.append(dict(user_id=f"u{i}", event_time=time, event_type="touch", channel="email"))
        rows.append(dict(user_id=f" u{i}", event_time="2026-10-01T09:00:00Z", event_type=" touch ", channel="seo"))
        rows.append(dict(user_id=f"u{i}", event_time=time, event_type="conversion", channel=None))
    records = [dict(r, gmv="10" if r["event_type"] == "conversion" else None,
                    currency="EUR" if r["event_type"] == "conversion" else None, order_id=None) for r in rows]
    columns = ("user_id", "event_time", "event_type", "channel", "gmv", "currency", "order_id")
    assert all(instant(t) is not None and instant(t) > 0 for t in UNREAD)  # the reference reads them all
    small_batches(batch, 2)
    path = tmp_path / f"events.{suffix}"
    raw = write_csv(records, columns, path) if suffix == "csv" else write_parquet(records, columns, path, 4)
    got = validate_file(path, ColumnMapping())
    assert got.rows_rejected == 0
    compare(raw, got, ColumnMapping())


EUR_CURRENCY = ["EUR", " EUR ", "eur", "", None]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), suffix=st.sampled_from(["csv", "parquet"]))
def test_the_local_engines_load_validates_so(data, suffix, tmp_path, monkeypatch):
    """The same through the public API (``load_table``, bad rows quarantined): the validation the local
    engine runs (seen by wrapping its ``validate_events``) agrees with the reference, and so do the
    rejects it hands on. One currency, so that the run needs no FX rates."""
    from shapley_attr.api import load_table
    from shapley_attr.engines import local

    columns = BASE + ("partner",)
    records = data.draw(exports(columns))
    currencies = data.draw(st.lists(st.sampled_from(EUR_CURRENCY), min_size=len(records), max_size=len(records)))
    records = [dict(r, currency=c) for r, c in zip(records, currencies)]
    path = tmp_path / f"events.{suffix}"
    raw = write_csv(records, columns, path) if suffix == "csv" else write_parquet(records, columns, path, 7)
    calls = []

    def spy(lf, name, mapping, **kwargs):
        got = ev.validate_events(lf, name, mapping, **kwargs)
        calls.append(kwargs)
        compare(raw, got, mapping)  # before the journey cut releases the accepted columns
        return got

    with monkeypatch.context() as m:
        m.setattr(local, "validate_events", spy)
        loaded = load_table(str(path), strict=False, period="2026-10")
    assert len(calls) == 1  # as engines.local.load is documented to call it: rows numbered by scan_input,
    assert {k: v for k, v in calls[0].items() if k != "after_first_pass"} == dict(  # other rows kept from CSV
        numbered=True, keep_others=suffix == "csv")
    want = {n: (v.column, v.value) for n, v in reference(raw, ColumnMapping()).items() if isinstance(v, Rejected)}
    assert {n: (c, v) for n, c, v in loaded.rejects.select("row", "column", "value").iter_rows()} == want


def test_order_chunks_are_polars_views_copied_only_where_written():
    """The first pass keeps the order columns as read-only views of Polars' chunks (no copy); a
    value written over (a time only the checks could read) copies that chunk alone; chunks that do
    not line up across the columns are copied into one array a batch, so that all stay aligned."""
    import numpy as np

    h = pl.concat([pl.Series("_h", [1, 2, 3], dtype=pl.UInt64), pl.Series("_h", [4, 5], dtype=pl.UInt64)],
                  rechunk=False)
    batch = pl.DataFrame([h, pl.concat([pl.Series("t", [10, 20, 30]), pl.Series("t", [40, 50])], rechunk=False)])
    assert batch.get_column("t").n_chunks() == 2
    chunks = {"_h": [], "t": []}
    ev._keep_chunks(batch, ["_h", "t"], None, chunks)
    assert [len(p) for p in chunks["t"]] == [3, 2] and not chunks["t"][0].flags.writeable
    first, second = chunks["t"]
    ev._put_chunks(chunks["t"], np.array([1, 3]), np.array([20, 41]))  # row 1 unchanged, row 3 written
    assert chunks["t"][0] is first and chunks["t"][1] is not second and second.tolist() == [40, 50]
    assert ev._take_chunks(chunks["t"], np.arange(5)).tolist() == [10, 20, 30, 41, 50]
    # a time read by the compiled reader is cut like the hashes
    chunks = {"_h": [], "t": []}
    ev._keep_chunks(batch.select("_h"), ["_h"], np.array([7, 8, 9, 10, 11]), chunks)
    assert [p.tolist() for p in chunks["t"]] == [[7, 8, 9], [10, 11]]
    # misaligned chunks: one array each
    ragged = pl.DataFrame([h, pl.Series("t", [10, 20, 30, 40, 50])])
    assert ragged.get_column("_h").n_chunks() == 2  # Polars keeps each column's own chunks
    chunks = {"_h": [], "t": []}
    ev._keep_chunks(ragged, ["_h", "t"], None, chunks)
    assert [len(p) for p in chunks["_h"]] == [5] == [len(p) for p in chunks["t"]]
