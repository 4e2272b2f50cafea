"""Malformed input: a clear InputError naming file, row and column, or quarantined rows that reconcile."""
from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shapley_attr as sa
from shapley_attr.errors import InputError

from .helpers import gmv_totals, load

HEADER = "user_id,event_time,event_type,channel,country,order_id,gmv,currency\n"
GOOD = ["u1,2026-10-01T10:00:00Z,touch,email,DE,,,",
        "u1,2026-10-02T10:00:00Z,conversion,,DE,o1,100.00,EUR",
        "u2,2026-10-03T10:00:00+02:00,touch,search,DE,,,",
        "u2,2026-10-03 11:00:00,conversion,,DE,o2,50,EUR"]


def write(tmp_path: Path, rows: list[str], name="events.csv", header=HEADER) -> Path:
    p = tmp_path / name
    p.write_text(header + "\n".join(rows) + "\n")
    return p


@pytest.mark.parametrize("row,column,words", [
    ("u3,yesterday,touch,email,DE,,,", "event_time", "ISO 8601"),
    ("u3,2026-10-03T10:00:00Z,conversion,,DE,o3,-5,EUR", "gmv", ">= 0"),
    ("u3,2026-10-03T10:00:00Z,conversion,,DE,o3,NaN,EUR", "gmv", "finite"),
    ("u3,2026-10-03T10:00:00Z,conversion,,DE,o3,inf,EUR", "gmv", "finite"),
    ("u3,2026-10-03T10:00:00Z,conversion,,DE,o3,12;50,EUR", "gmv", "expected a finite decimal number"),
    ('u3,2026-10-03T10:00:00Z,conversion,,DE,o3,"1.234,50",EUR', "gmv", "a comma in a number (a decimal comma or"),
    ('u3,2026-10-03T10:00:00Z,conversion,,DE,o3,"12,5",EUR', "gmv", "a comma in a number (a decimal comma or"),
    ('u3,2026-10-03T10:00:00Z,conversion,,DE,o3,"1,234.50",EUR', "gmv", "a thousands separator): expected digits and"),
    ('u3,2026-10-03T10:00:00Z,conversion,,DE,o3," 1,234 ",EUR', "gmv", "a comma in a number"),
    ('u3,2026-10-03T10:00:00Z,conversion,,DE,o3,"12,",EUR', "gmv", "expected a finite decimal number"),
    ("u3,2026-10-03T10:00:00Z,click,email,DE,,,", "event_type", "unknown event type"),
    ("u3,2026-10-03T10:00:00Z,touch,,DE,,,", "channel", "without a channel"),
    (",2026-10-03T10:00:00Z,touch,email,DE,,,", "user_id", "missing user_id"),
    ("u3,2026-10-03T10:00:00Z,conversion,,DE,o3,5,euro", "currency", "ISO 4217"),
    ("u3,2026-10-03T10:00:00Z,conversion,,DE,o1,5,EUR", "order_id", "duplicate order_id"),
])
def test_row_fault_names_file_row_column(tmp_path, row, column, words):
    path = write(tmp_path, GOOD + [row])
    with pytest.raises(InputError) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg and "row 5" in msg and repr(column) in msg and words in msg
    table, report = load(path, strict=False)
    assert report.reconciliation.rows_read == 5 and report.reconciliation.rows_accepted == 4 and report.reconciliation.rows_rejected == 1
    assert report.rejects.row(0, named=True)["column"] == column
    assert report.reconciliation.balanced and all(c.balanced for c in report.reconciliation.by_currency)
    counted = sum(c.conversions_read for c in report.reconciliation.by_currency)
    rejected = sum(c.conversions_rejected for c in report.reconciliation.by_currency)
    bad_row_counted = ",touch," not in row  # every row but a touch enters the GMV reconciliation
    assert (counted, rejected) == (2 + bad_row_counted, int(bad_row_counted))
    assert table.conversions.sum() == 2


@pytest.mark.parametrize("column", ["event_time", "gmv", "margin"])
@pytest.mark.parametrize("dtype", [pl.Float32, pl.Float16] if hasattr(pl, "Float16") else [pl.Float32])
def test_a_time_or_an_amount_in_a_narrow_float_is_refused(tmp_path, column, dtype):
    """Float32 rounds epoch seconds to minutes (a touch 30 s after a conversion credited it) and
    1234567.89 to 1234567.875 while the reconciliation said balanced: refused, naming the column."""
    frame = pl.DataFrame({"user_id": ["u1", "u1"], "event_time": [1791000000.0, 1791000100.0],
                          "event_type": ["touch", "conversion"], "channel": ["email", None],
                          "order_id": [None, "o1"], "gmv": [None, 1234567.89], "margin": [None, 10.0],
                          "currency": [None, "EUR"]}).with_columns(pl.col(column).cast(dtype))
    path = tmp_path / "events.parquet"
    frame.write_parquet(path)
    with pytest.raises(InputError, match=rf"column '{column}' holds Float\d+, which rounds") as info:
        load(path)
    assert info.value.issue.column == column and str(path) in str(info.value)


def test_missing_required_column(tmp_path):
    path = write(tmp_path, ["u1,2026-10-01T10:00:00Z,touch"], header="user_id,event_time,kind\n")
    with pytest.raises(InputError, match=r"missing required column\(s\) event_type.*columns found: user_id, event_time, kind"):
        load(path)


def test_mapped_column_absent(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(InputError, match="column 'customer' .* not found"):
        load(path, columns={"user_id": "customer"})


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        load(empty)
    header_only = write(tmp_path, [], name="header.csv")
    header_only.write_text(HEADER)
    table, report = load(header_only)
    assert report.reconciliation.rows_read == 0 and table.n_paths == 0


def test_unknown_extension_and_missing_file(tmp_path):
    p = tmp_path / "events.xlsx"
    p.write_text("x")
    with pytest.raises(InputError, match="unknown file type"):
        load(p)
    with pytest.raises(InputError, match="file not found"):
        load(tmp_path / "nope.parquet")


def test_mixed_currencies_need_fx(tmp_path):
    path = write(tmp_path, GOOD + ["u3,2026-10-03T10:00:00Z,conversion,,GB,o3,5,GBP"])
    with pytest.raises(InputError, match="mixed currencies EUR, GBP"):
        load(path)


@pytest.mark.parametrize("path_cell,words", [("a >  > b", "empty channel"), ("a > ", "empty channel"),
                                             ("", "empty path")])
def test_paths_with_empty_channel(tmp_path, path_cell, words):
    p = tmp_path / "paths.csv"
    p.write_text(f"path;total_conversions;total_conversion_value;total_null\na > b;1;2;3\n{path_cell};1;1;0\n")
    with pytest.raises(InputError) as info:
        load(p)
    assert "row 2" in str(info.value) and "'path'" in str(info.value) and words in str(info.value)


def test_paths_negative_counts_and_value_without_conversions(tmp_path):
    p = tmp_path / "paths.csv"
    p.write_text("path,total_conversions,total_conversion_value,total_null\na,1,2,-3\nb,0,5,1\nc,1,1,1\n")
    table, report = load(p, strict=False)
    assert report.rejects["row"].to_list() == [1, 2]
    assert report.rejects["column"].to_list() == ["total_null", "total_conversion_value"]
    read, accepted, rejected = gmv_totals(report)
    assert (read, accepted, rejected) == (8.0, 1.0, 7.0)
    assert report.reconciliation.balanced
    assert table.channels == ("c",)


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_binary_formats_read_the_same(tmp_path, suffix):
    csv_path = write(tmp_path, GOOD)
    df = pl.read_csv(csv_path, infer_schema=False)
    other = tmp_path / f"events{suffix}"
    (df.write_parquet if suffix == ".parquet" else df.write_ipc)(other)
    a, _ = load(csv_path)
    b, _ = load(other)
    assert a.path_labels() == b.path_labels() and a.value.tolist() == b.value.tolist()


def _arrow_events(tmp_path):
    import pyarrow as pa

    from datetime import datetime, timezone

    hours = (10, 34, 58, 59)  # u1's touch and conversion, then u2's
    table = pl.DataFrame({
        "user_id": ["u1", "u1", "u2", "u2"],
        "event_time": [datetime(2026, 10, 1, tzinfo=timezone.utc).replace(day=1 + h // 24, hour=h % 24) for h in hours],
        "event_type": ["touch", "conversion", "touch", "conversion"], "channel": ["email", None, "search", None],
        "order_id": [None, "o1", None, "o2"], "gmv": [None, "100.00", None, "50"], "currency": [None, "EUR", None, "EUR"],
    }).with_columns(pl.col("event_time").dt.cast_time_unit("us")).to_arrow()
    return pa, table


def test_arrow_file_with_a_column_twice_or_in_the_stream_format(tmp_path):
    # Polars kept one of two same-named columns in the schema, then panicked while reading (exit 1)
    import pyarrow.ipc as ipc

    pa, table = _arrow_events(tmp_path)
    twice = pa.Table.from_arrays([*table.columns, table.column("user_id")], names=[*table.column_names, "user_id"])
    path = tmp_path / "twice.arrow"
    with ipc.new_file(path, twice.schema) as writer:
        writer.write_table(twice)
    with pytest.raises(InputError, match="column 'user_id' appears 2 times") as info:
        load(path)
    assert info.value.issue.column == "user_id"
    stream = tmp_path / "stream.arrow"  # the stream format (no footer): read whole, the file's checks alike
    with ipc.new_stream(stream, twice.schema) as writer:
        writer.write_table(twice)
    with pytest.raises(InputError, match=f"{stream}, column 'user_id': column 'user_id' appears 2 times"):
        load(stream)
    with ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    as_file = tmp_path / "file.arrow"
    with ipc.new_file(as_file, table.schema) as writer:
        writer.write_table(table)
    (t1, r1), (t2, r2) = load(stream), load(as_file)
    assert r1.reconciliation.rows_read == r2.reconciliation.rows_read == table.num_rows
    assert (t1.value == t2.value).all() and t1.channels == t2.channels
    stream.write_bytes(stream.read_bytes()[:-40])  # cut inside its last message
    with pytest.raises(InputError, match=f"{stream}: cannot be read"):
        load(stream)


@pytest.mark.parametrize("ids,ok", [
    ([True, True, False, False], False),  # every customer one of two users: were accepted
    ([1.0, 1.0, 2.0, 2.0], False),  # floats cannot tell ids above 2^53 apart
    ([10**18 + 1, 10**18 + 1, 10**18 + 2, 10**18 + 2], True),
    (["u1", "u1", "u2", "u2"], True),
])
def test_user_id_is_text_or_an_integer(tmp_path, ids, ok):
    pa, table = _arrow_events(tmp_path)
    path = tmp_path / "ids.parquet"
    pl.from_arrow(table).with_columns(pl.Series("user_id", ids)).write_parquet(path)
    if ok:
        assert load(path)[0].conversions.sum() == 2
    else:
        with pytest.raises(InputError, match="column 'user_id' holds .*: expected text or an integer") as info:
            load(path)
        assert info.value.issue.column == "user_id"


@pytest.mark.parametrize("zone", ["+05:30", "Mars/Olympus_Mons"])
def test_timestamps_zoned_by_an_offset_or_an_unknown_name_are_utc_instants(tmp_path, zone):
    # valid Arrow, refused by Polars with a Rust panic unless POLARS_IGNORE_TIMEZONE_PARSE_ERROR=1;
    # a fresh process without that variable: the command sets it, the library for the duration of a load
    import subprocess
    import sys

    import pyarrow.parquet as pq

    pa, table = _arrow_events(tmp_path)
    utc, zoned = tmp_path / "utc.parquet", tmp_path / "zoned.parquet"
    pq.write_table(table, utc)
    at = table.schema.get_field_index("event_time")
    pq.write_table(table.set_column(at, "event_time", table.column(at).cast(pa.timestamp("us", tz=zone))), zoned)
    env = {k: v for k, v in os.environ.items() if k != "POLARS_IGNORE_TIMEZONE_PARSE_ERROR"}
    api = ("import sys, shapley_attr as sa; t = sa.load_table(sys.argv[1]).table; "
           "print(t.path_labels(), t.value.tolist())")
    got = [subprocess.run([sys.executable, "-c", api, str(f)], env=env, capture_output=True, text=True)
           for f in (utc, zoned)]
    assert got[0].returncode == 0 and got[1].returncode == 0, got[1].stderr
    assert got[1].stdout == got[0].stdout and "(direct)" not in got[0].stdout
    cli = [subprocess.run([sys.executable, "-m", "shapley_attr", "attribute", str(f), "--model", "last",
                           "--format", "csv", "--quiet"], env=env, capture_output=True, text=True) for f in (utc, zoned)]
    assert cli[1].returncode == 0 and cli[1].stdout == cli[0].stdout and "panicked" not in cli[1].stderr


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                             blacklist_characters=",\n\r\""), max_size=12),
                               min_size=8, max_size=8), min_size=1, max_size=6))
def test_garbage_rows_never_crash(tmp_path, cells):
    rows = [",".join(c) for c in cells]
    path = write(tmp_path, GOOD + rows, name="garbage.csv")
    try:
        table, report = load(path, strict=False)
    except InputError:
        return  # a clear error is fine (e.g. mixed currencies)
    assert report.reconciliation.rows_read == report.reconciliation.rows_accepted + report.reconciliation.rows_rejected == len(GOOD) + len(rows)
    for c in report.reconciliation.by_currency:
        assert c.gmv_read == c.gmv_rejected + c.gmv_outside_run + c.gmv_in_run, c
        assert c.conversions_read == c.conversions_rejected + c.conversions_outside_run + c.conversions_in_run, c


def test_batches_give_the_same_result(tmp_path, monkeypatch):
    """Validation runs in batches of rows: tiny batches (bad rows, a duplicate order id and a user's
    events falling in different batches) give the same table, rejects and reconciliation as one."""
    import numpy as np

    import shapley_attr.io.events as events

    rows = GOOD + ["u3,yesterday,touch,email,DE,,,",
                   "u1,2026-10-04T10:00:00Z,touch,search,DE,,,",
                   "u3,2026-10-04T11:00:00Z,conversion,,FR,o1,7.5,EUR",  # duplicate of row 2's order id
                   "u3,2026-10-04T12:00:00Z,conversion,,FR,,7.5,EUR",  # no order id: derived
                   "u1,2026-10-05T10:00:00Z,conversion,,DE,o9,-1,EUR",
                   "u2,2026-10-06T10:00:00Z,touch,email,DE,,,",
                   "u2,2026-10-06T11:00:00Z,conversion,,DE,o7,20,EUR"]
    path = write(tmp_path, rows, name="batches.csv")
    whole, whole_report = load(path, strict=False)
    for size in (1, 2, 3, 5):
        monkeypatch.setattr(events, "BATCH_ROWS", size)
        table, report = load(path, strict=False)
        assert report.rejects.equals(whole_report.rejects), size
        assert (report.reconciliation.rows_read, report.reconciliation.rows_accepted, report.reconciliation.rows_rejected) == \
            (whole_report.reconciliation.rows_read, whole_report.reconciliation.rows_accepted, whole_report.reconciliation.rows_rejected) == (11, 8, 3)
        assert report.reconciliation.by_currency == whole_report.reconciliation.by_currency
        assert gmv_totals(report) == gmv_totals(whole_report) == (184.0, 177.5, 6.5)
        assert table.channels == whole.channels
        for name in ("offsets", "codes", "conversions", "value", "nulls"):
            np.testing.assert_array_equal(getattr(table, name), getattr(whole, name))
    assert sorted(whole_report.rejects["column"].to_list()) == ["event_time", "gmv", "order_id"]


def test_binary_column_with_bytes_that_are_not_utf8(tmp_path):
    """Parquet can store text as raw bytes: valid UTF-8 is read as text, the rest is a reject naming
    the column with its bytes in hex (never an internal error)."""
    p = tmp_path / "bin.parquet"
    pl.DataFrame({"user_id": ["u1", "u2", "u2"], "event_time": ["2026-10-01T10:00:00Z"] * 3,
                  "event_type": ["touch", "touch", "conversion"], "channel": [b"\x80\x81", b"b", None],
                  "gmv": [None, None, 5.0], "currency": [None, None, "EUR"]}).write_parquet(p)
    with pytest.raises(InputError, match=r"row 1, column 'channel': not UTF-8 text.*got '8081'"):
        load(p)
    table, report = load(p, strict=False)
    assert report.rejects.row(0, named=True) | {"source": ""} == {"source": "", "row": 1, "column": "channel",
                                                                   "value": "8081", "reason": report.rejects["reason"][0]}
    assert table.path_labels() == ["b"] and table.value.tolist() == [5.0]


@pytest.mark.parametrize("width", [16, None])
def test_a_user_id_of_bytes_is_read_by_its_bytes(tmp_path, width):
    """A user id stored as bytes (a UUID as Parquet's 16-byte FIXED_LEN_BYTE_ARRAY, as DuckDB writes
    it; or any binary column) is an id, not text: every row of a UUID export was a reject, "not UTF-8
    text". Now each id is the hex of its bytes: the run equals the same export with the ids as that
    text, bytes that happen to be UTF-8 included, and an empty id is still a missing one."""
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [uuid.UUID(int=(0xF0 << 120) + i).bytes for i in range(3)] + [b"u2" * 8]  # not UTF-8, then text
    rows = [(0, "email"), (0, None), (1, "seo"), (2, "email"), (1, None), (3, "ads"), (3, None), (2, None)]
    types = ["touch" if ch else "conversion" for _, ch in rows]
    events = {"event_time": [f"2026-10-0{1 + i // 4}T1{i % 4}:00:00Z" for i in range(len(rows))],
              "event_type": types, "channel": [ch for _, ch in rows],
              "gmv": [None if ch else f"{10 + i}.5" for i, (_, ch) in enumerate(rows)],
              "currency": [None if ch else "EUR" for _, ch in rows]}
    as_bytes = pa.array([ids[u] for u, _ in rows], pa.binary(width) if width else pa.binary())
    p = tmp_path / "bytes.parquet"
    pq.write_table(pa.table({"user_id": as_bytes} | events), p)
    as_text = tmp_path / "text.parquet"
    pq.write_table(pa.table({"user_id": [ids[u].hex() for u, _ in rows]} | events), as_text)
    table, report = load(p)
    expected, _ = load(as_text)
    assert report.rejects.is_empty() and table.path_labels() == expected.path_labels()
    assert table.value.tolist() == expected.value.tolist() and table.stats["users"] == 4
    if width is None:  # an empty id of bytes is a missing id, as an empty text one
        empty = tmp_path / "empty.parquet"
        pq.write_table(pa.table({"user_id": pa.array([b""] + [ids[u] for u, _ in rows[1:]])} | events), empty)
        with pytest.raises(InputError, match="row 1, column 'user_id': missing user_id"):
            load(empty)


_CSV_PIECES = st.sampled_from([b"a", b"bc", b",", b",", b'"', b'""', b"\n", b"\n", b"\r\n", b"\r", b" ", b"\xc3\xa9",
                               b"\xff", b"\xe2\x82", b"\x00", b"\t", b'"x\ny"', b"\n\n"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.sampled_from([b"a,b,c\n", b"\n\na,b\r\n", b'"a\nx",b\n', b"a,b,c"]),
       body=st.lists(_CSV_PIECES, max_size=60).map(b"".join), bom=st.booleans(), chunk=st.integers(1, 9))
def test_the_csv_check_in_two_halves_is_the_one_pass_check(tmp_path, monkeypatch, header, body, bom, chunk):
    """A large CSV file's byte check runs in two halves at once (readers._scan_halves): same verdict,
    same first fault (message, row, column) as one pass over the file, wherever the middle falls (in a
    quoted value, a UTF-8 sequence, a blank line, the header), and the same blank lines' rows."""
    from shapley_attr.io import readers

    path = tmp_path / "t.csv"
    path.write_bytes((readers.BOM_UTF8 if bom else b"") + header + body)

    def verdict(parallel: bool):
        with monkeypatch.context() as m:
            m.setattr(readers, "CHUNK_BYTES", chunk)
            m.setattr(readers, "PARALLEL_BYTES", 1 if parallel else 1 << 40)
            try:
                blanks = readers.check_csv_bytes(path, ",")
            except InputError as exc:
                return str(exc), exc.issue
            return blanks.tolist()

    assert verdict(True) == verdict(False)


@settings(max_examples=400, deadline=None)
@given(header=st.sampled_from([b"a,b,c\n", b"a;b;c\n", b"a\tb\n", b"\n\na,b\r\n", b'"a\nx",b\n', b"a,b,c", b"a\n"]),
       body=st.lists(st.one_of(_CSV_PIECES, st.sampled_from([b"abcdefghijklmnop", b"x,y,z,w", b"p;q;r", b"k\tl\tm",
                                                               b"0123456789,abcdef\n", b"\r\n\r\n", b"a\rb"])),
                     max_size=60).map(b"".join),
       delim=st.sampled_from([b",", b";", b"\t"]), cuts=st.lists(st.integers(0, 400), max_size=4))
def test_the_csv_checks_quick_look_at_records_is_the_byte_by_byte_scan(header, body, delim, cuts):
    """kernels.csv_scan takes a record of plain text and delimiters at once (``quick``): chunk by
    chunk, the fault code and every slot of the state (counters, the fault's place) are the ones the
    byte-by-byte rules give, wherever the chunks are cut (in a record, a CR LF, a UTF-8 sequence)."""
    import numpy as np

    from shapley_attr.kernels import csv_scan as k

    data = np.frombuffer(header + body, dtype=np.uint8)
    bounds = sorted({0, len(data), *[min(c, len(data)) for c in cuts]})
    classes = k.byte_classes(delim[0], ord('"'))
    quick, slow = k.new_state(), k.new_state()
    for lo, hi in zip(bounds, bounds[1:]):
        chunk = data[lo:hi].copy()
        code = k.scan_chunk(chunk, lo, delim[0], ord('"'), classes, quick)
        assert code == k.scan_chunk(chunk, lo, delim[0], ord('"'), classes, slow, quick=False)
        assert quick.tolist() == slow.tolist()
        if code != k.OK:
            return
    assert k.finish(quick, len(data)) == k.finish(slow, len(data)) and quick.tolist() == slow.tolist()


def test_the_csv_check_in_two_halves_finds_the_second_halfs_fault(tmp_path, monkeypatch):
    from shapley_attr.io import readers

    rows = [b"u%d,2026-10-01,touch" % i for i in range(2000)]
    rows[1500] = b"u1500,2026-10-01,touch,extra"
    path = tmp_path / "t.csv"
    path.write_bytes(b"user_id,event_time,event_type\n" + b"\n".join(rows) + b"\n")
    monkeypatch.setattr(readers, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 4096)
    calls = []
    halves = readers._scan_halves
    monkeypatch.setattr(readers, "_scan_halves", lambda *a: calls.append(1) or halves(*a))
    with pytest.raises(InputError) as err:
        readers.check_csv_bytes(path, ",")
    assert calls and err.value.issue.row == 1501 and "more fields than the header's 3" in str(err.value)
    assert "(line 1502)" in str(err.value)


BLANK_HEADER = "user_id,event_time,event_type,channel,country,order_id,gmv,currency\n"
BLANK_ROWS = ["u1,2026-10-01T00:00:00Z,touch,seo,DE,,,\n", "u1,2026-10-01T01:00:00Z,conversion,,DE,o1,10,EUR\n",
              'u2,2026-10-01T00:00:00Z,touch,"se\n\no",DE,,,\n', "u2,2026-10-01T02:00:00Z,conversion,,DE,o2,-5,EUR\n",
              "u3,2026-10-01T00:00:00Z,touch,email,DE,,,\n", "u3,2026-10-01T03:00:00Z,conversion,,DE,o3,7,EUR\n"]


@pytest.mark.parametrize("blank", ["\n", "\r\n"])
def test_blank_lines_are_no_rows(tmp_path, blank):
    # a blank line (a trailing one after the last record, most often) was a row of nulls: a reject
    # 'missing user_id' (exit 2 without --rejects), and every row after it numbered one higher than
    # on the Spark engine, which skips it as pandas and R do
    from shapley_attr.io.readers import check_csv_bytes

    plain = tmp_path / "plain.csv"
    plain.write_text(BLANK_HEADER + "".join(BLANK_ROWS), newline="")
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(BLANK_HEADER + blank + BLANK_ROWS[0] + blank + blank + "".join(BLANK_ROWS[1:4]) + blank
                      + "".join(BLANK_ROWS[4:]) + blank + blank, newline="")
    assert check_csv_bytes(spaced, ",").tolist() == [1, 3, 4, 8, 11, 12]  # Polars' rows of nulls
    a = sa.attribute(plain, model="last", strict=False, with_report=True)
    b = sa.attribute(spaced, model="last", strict=False, with_report=True)
    assert a[0].equals(b[0])
    assert a[1].loaded.rejects.drop("source").equals(b[1].loaded.rejects.drop("source"))
    assert b[1].loaded.rejects.select("row", "column").rows() == [(4, "gmv")]  # the 4th record, -5
    assert b[1].reconciliation.rows_read == len(BLANK_ROWS) == a[1].reconciliation.rows_read


def test_files_named_like_arrow_ipc_that_are_not_say_what_they_are(tmp_path):
    """Battery 5 C8: a Feather v1 file, a Parquet file named .feather and a truncated IPC file all gave
    Polars' 'out-of-spec: InvalidFooter'."""
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    table = pa.table({"user_id": ["u1"], "event_time": ["2026-10-01T10:00:00Z"], "event_type": ["touch"],
                      "channel": ["email"]})
    v1 = tmp_path / "v1.feather"
    v1.write_bytes(b"FEA1" + b"\0" * 64 + b"FEA1")  # Feather v1's magic at both ends
    parquet = tmp_path / "pq.feather"
    pq.write_table(table, parquet)
    whole = tmp_path / "whole.arrow"
    with ipc.new_file(str(whole), table.schema) as writer:
        writer.write_table(table)
    truncated = tmp_path / "truncated.arrow"
    truncated.write_bytes(whole.read_bytes()[:-20])
    for path, words in ((v1, "a Feather v1 file"), (parquet, "a Parquet file"),
                        (truncated, "a truncated or damaged Arrow IPC file")):
        with pytest.raises(InputError, match=f"cannot be read as Arrow IPC: it is {words}"):
            load(path)
