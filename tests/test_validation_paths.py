"""The plain-touch shortcut of ``validate_events`` against the contract's checks alone.

Most rows are recognised as plain touches from their raw values (no trimming, no parsing); every
other row goes through the checks, those whose user id and time the first pass read without
reading them again (``KNOWN_SHORTCUT``). With both shortcuts switched off every row is read whole
and checked, so the two must agree on every output: accepted rows and their codes, conversions,
rejects with reasons, the reconciliation rows and the channel dictionary — on exports full of the
values that make a row *not* plain (padded types and labels, blank ids, bad times, the reserved
label, partners).
"""
from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from shapley_attr.config import ColumnMapping
from shapley_attr.io import events as ev
from shapley_attr.io.readers import ROW

USERS = ["u1", "u2", " u3", "", "   ", None, "\tu4", "ü5", "\u3000", "\u3000u6", "\u00a0", "\u2028u7",
         "ñ8", "a-user-id-longer-than-twelve", " a-padded-user-id-longer-than-twelve", "\u205f" * 7]
TIMES = ["2026-10-01T10:00:00Z", "2026-10-02 11:30:00", "2026-10-01T10:00:00+02:00", "yesterday", "", None,
         " 2026-10-03T09:00:00Z", "2026-10-01T10:00:00.123456789+0530", "2026-10-01 10:00:05 UTC", "2026-10-01",
         "2026-10-01T10:00:60Z", "2026-02-29T10:00:00Z", "1700000000", "2026-10-01T10:00:00 +02:00"]
"""Times the compiled reader reads and times it leaves to parse_time (a leap second, a spaced offset,
epoch digits), valid or not."""
TYPES = ["touch", "conversion", " touch", "touch ", " touch ", "  touch", "\ttouch", "conversion\t", " conversion",
         "click", "", None, "Touch"]
LABELS = ["email", "search", " email", "email ", "", "  ", None, "(direct)", " (direct) ", "display", "\u00a0seo", "\x1fseo", "seo"]
PARTNERS = [None, None, "", "p1", " p2 ", "  "]
GMV = ["100.00", " 12.5 ", "-5", "abc", "", None, "1e13", "0"]
CURRENCY = ["EUR", " GBP ", "eur", "", None, "JPY"]
ORDER = ["o1", "o2", "", None, " o1 ", "o3"]


def rows(with_partner: bool):
    columns = dict(user_id=st.sampled_from(USERS), event_time=st.sampled_from(TIMES),
                   event_type=st.sampled_from(TYPES), channel=st.sampled_from(LABELS), gmv=st.sampled_from(GMV),
                   currency=st.sampled_from(CURRENCY), order_id=st.sampled_from(ORDER),
                   country=st.sampled_from(["DE", " fr", "", None]),
                   page_url=st.sampled_from(["/home", "", None]))  # not a contract column: never checked
    if with_partner:
        columns["partner"] = st.sampled_from(PARTNERS)
    return st.lists(st.fixed_dictionaries(columns), min_size=0, max_size=60)


def validate(frame: pl.DataFrame, shortcut: bool, monkeypatch, mapping: ColumnMapping):
    with monkeypatch.context() as m:
        if not shortcut:  # no raw event type counts as a touch: every row goes whole through the checks
            m.setattr(ev, "_raw_spellings", lambda types: [])
            m.setattr(ev, "KNOWN_SHORTCUT", False)
        return ev.validate_events(frame.lazy().with_row_index(ROW, offset=1), "events.csv", mapping)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), with_partner=st.booleans(), batch=st.sampled_from([3, 7, 2_000_000]),
       kept_rows=st.sampled_from([2, 2_000_000]))
def test_shortcut_equals_the_checks(data, with_partner, batch, kept_rows, monkeypatch):
    records = data.draw(rows(with_partner))
    schema = {c: pl.Utf8 for c in ["user_id", "event_time", "event_type", "channel", "gmv", "currency", "order_id",
                                   "country", "page_url"] + (["partner"] if with_partner else [])}
    frame = pl.DataFrame(records, schema=schema)
    mapping = ColumnMapping()
    monkeypatch.setattr(ev, "BATCH_ROWS", batch)
    monkeypatch.setattr(ev, "WIDE_BATCH_ROWS", batch)
    monkeypatch.setattr(ev, "KEPT_ROWS", kept_rows)  # 2: the kept rows are dropped and read again
    fast = validate(frame, True, monkeypatch, mapping)
    slow = validate(frame, False, monkeypatch, mapping)
    lf = frame.lazy().with_row_index(ROW, offset=1)
    # rows numbered 1, 2, ... by the reader (the local engine's): the first pass does not read them;
    # and the rows of other types kept by the first pass instead of read again (the local engine's on CSV)
    numbered = ev.validate_events(lf, "events.csv", mapping, numbered=True)
    kept = ev.validate_events(lf, "events.csv", mapping, numbered=True, keep_others=True)
    assert fast.channels == slow.channels == numbered.channels == kept.channels
    assert fast.rows_read == slow.rows_read == numbered.rows_read == kept.rows_read == len(frame)
    for name in ("accepted", "conversions", "rejects", "counted"):
        assert_frame_equal(getattr(fast, name), getattr(slow, name), check_dtypes=True)
        for other in (numbered, kept):
            theirs = getattr(other, name)
            if name == "accepted":  # numbered rows are left out when every row is kept; row_numbers() gives them
                assert (ROW in theirs.columns) == (other.rows_rejected > 0)
                assert other.row_numbers().tolist() == fast.accepted.get_column(ROW).to_list()
                if ROW not in theirs.columns:
                    theirs = theirs.insert_column(0, pl.Series(ROW, other.row_numbers()))
            assert_frame_equal(getattr(fast, name), theirs, check_dtypes=True)
    assert fast.order_ids_derived == slow.order_ids_derived == kept.order_ids_derived
    assert fast.rows_accepted + fast.rows_rejected == len(frame)
    # and, not through the shortcuts at all: each accepted row's user hashes and time are those of its
    # raw values (a time the compiled reader leaves unread, e.g. with white space around it, is parsed
    # by parse_time; the shortcuts once left it 0)
    raw = lf.select(pl.col(ROW).cast(pl.Int64), pl.col("user_id").hash(seed=0).alias("_h"),
                    pl.col("user_id").hash(seed=7919).alias("_h2"), ev.parse_time(pl.Utf8).alias("t")).collect()
    want = fast.accepted.select(ROW).join(raw, on=ROW, how="left", maintain_order="left")
    assert_frame_equal(fast.accepted.select(ROW, "_h", "_h2", "t"), want, check_dtypes=True)
    assert want.get_column("t").null_count() == 0
    # the event type and channel code too, from the trimmed raw values (Polars' trim is the contract's)
    label = pl.col("channel").str.strip_chars()
    if with_partner:
        partner = pl.col("partner").str.strip_chars()
        label = pl.when(partner.is_not_null() & (partner != "")).then(pl.lit("partner:") + partner).otherwise(label)
    is_conv = pl.col("event_type").str.strip_chars().is_in(list(mapping.conversion_types)).fill_null(False)
    typed = lf.select(pl.col(ROW).cast(pl.Int64), is_conv.alias("is_conversion"), label.alias("_label")).collect()
    typed = fast.accepted.select(ROW).join(typed, on=ROW, how="left", maintain_order="left")
    codes = [-1 if conv else list(fast.channels).index(lab)
             for conv, lab in zip(typed.get_column("is_conversion"), typed.get_column("_label"))]
    assert fast.accepted.get_column("is_conversion").to_list() == typed.get_column("is_conversion").to_list()
    assert fast.accepted.get_column("code").to_list() == codes


def test_plain_touches_skip_the_checks(monkeypatch):
    """A clean export's touches never reach the checks: only its conversions do."""
    frame = pl.DataFrame({"user_id": ["a", "a", "b", "b"], "event_time": ["2026-10-01T10:00:00Z"] * 4,
                          "event_type": ["touch", "conversion", "touch", "touch"],
                          "channel": ["email", None, "search", "email"], "gmv": [None, "5", None, None],
                          "currency": [None, "EUR", None, None]})
    seen = []
    exact = ev._exact_columns

    def spy(*args, **kwargs):
        frame_of = exact(*args, **kwargs)

        def wrapped(lf):
            out = frame_of(lf)
            seen.append(out)
            return out
        return wrapped

    monkeypatch.setattr(ev, "_exact_columns", spy)
    got = ev.validate_events(frame.lazy().with_row_index(ROW, offset=1), "e.csv", ColumnMapping())
    # the checks' frames (and the empty one giving their columns) hold the rows that were not plain touches
    assert [row for out in seen for row in out.collect().get_column(ROW).to_list()] == [2]
    assert got.accepted.get_column("code").to_list() == [0, -1, 1, 0]
    assert got.channels == ("email", "search") or list(got.channels) == ["email", "search"]


@given(st.lists(st.integers(0, 2**40), max_size=50), st.lists(st.integers(0, 2**40), max_size=50))
def test_union_is_numpys(a, b):
    import numpy as np

    a, b = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
    got = ev._union(a, b)
    assert got.dtype == np.int64 and np.array_equal(got, np.union1d(a, b))


def test_times_the_reader_leaves_unread_attribute_as_clean_ones(tmp_path):
    """The bundled export as CSV twice: ISO times, and the same instants with white space around them
    (read by the compiled reader) or as it leaves them to ``parse_time`` (a lower-case ``z``, a tab
    before the offset).
    Every row then goes through the checks; the credits must be the same to the last digit (the
    checked touches once kept the first pass's 0 for their unread times and fell out of every window)."""
    import numpy as np

    import shapley_attr as sa

    events = pl.read_parquet("data/samples/events.parquet")
    iso = events.with_columns(pl.col("event_time").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    styles = np.arange(len(iso)) % 3
    odd = iso.with_columns(
        pl.when(pl.Series(styles == 0)).then(pl.lit(" ") + pl.col("event_time") + pl.lit(" "))
        .when(pl.Series(styles == 1)).then(pl.col("event_time").str.replace("Z", "z"))
        .otherwise(pl.col("event_time").str.replace("Z", "\t+00:00")).alias("event_time"))
    assert odd.get_column("event_time").head(3).to_list() == [
        " " + iso.item(0, "event_time") + " ", iso.item(1, "event_time")[:-1] + "z",
        iso.item(2, "event_time")[:-1] + "\t+00:00"]
    clean_csv, odd_csv = tmp_path / "clean.csv", tmp_path / "odd.csv"
    iso.write_csv(clean_csv)
    odd.write_csv(odd_csv)
    options = dict(fx="data/samples/fx.csv", model="shapley", game="rate")
    clean = sa.attribute(str(clean_csv), **options)
    assert_frame_equal(sa.attribute(str(odd_csv), **options), clean)
    assert_frame_equal(sa.attribute("data/samples/events.parquet", **options), clean)
