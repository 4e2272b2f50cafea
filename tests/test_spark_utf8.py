"""A Parquet export whose text holds bytes that are not UTF-8: the Spark engine's outcome is the local
engine's.

- a string column (UTF8-annotated BYTE_ARRAY) of the events contract: the local engine's reader refuses
  the file (exit 2 naming it, with or without --rejects); Spark read the bytes unchecked (a label's
  crashed the dictionary pass, exit 1; a user id's were hashed as they were, exit 0). Spark names the
  first such row and column besides;
- a binary column: the row is a reject naming the column, its bytes in hex (the same rejects.csv); a
  binary channel's crashed Spark's dictionary pass (exit 1).

test_spark.py's Spark session and settings fixtures (imported), small chunks and Arrow
batches so the first bad row is found across chunks and row groups.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli

from .test_spark import partitioning, spark  # noqa: F401 - its Spark session and settings fixtures

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
CHUNK = "spark.shapley_attr.chunkRows"
BAD = b"\xc3("  # a lead byte without its continuation byte
SMALL = {CHUNK: "500", "spark.sql.execution.arrow.maxRecordsPerBatch": "300",
         "spark.sql.files.maxPartitionBytes": "40000"}
"""The sample in several input partitions, chunks and Arrow batches: the first bad row is the least of
several chunks' (set for each test, then put back: the session may be test_spark.py's too)."""


@pytest.fixture
def small(partitioning):
    partitioning(**SMALL)  # put back after the test by test_spark.py's fixture


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def poisoned(tmp_path, column: str, as_binary: bool):
    """The sample export with bytes that are not UTF-8 at the start of three of ``column``'s values (in
    different row groups, the first in the file not the first written to), as a string column
    (``as_binary`` false: the bytes written under the UTF8 annotation) or a binary one. Returns the
    path and the first such row (1-based)."""
    table = pq.read_table(SAMPLES / "events.parquet")
    values = table.column(column).cast(pa.binary()).to_pylist()
    given = [i for i, v in enumerate(values) if v is not None]
    rows = [given[len(given) * 3 // 4], given[len(given) // 3], given[-1]]
    for i in rows:
        values[i] = BAD + values[i]
    array = pa.array(values, pa.binary())
    if not as_binary:
        array = array.cast(pa.string(), safe=False)  # unchecked: the file's bytes as a faulty writer leaves them
    table = table.set_column(table.schema.get_field_index(column), column, array)
    path = tmp_path / f"{column}.parquet"
    pq.write_table(table, path, row_group_size=700)
    return path, min(rows) + 1


@pytest.mark.parametrize("column", ["user_id", "channel", "event_type", "country", "order_id", "currency"])
def test_a_string_that_is_not_utf8_refuses_the_file_as_the_local_engine_does(small, tmp_path, column):
    path, first = poisoned(tmp_path, column, as_binary=False)
    out = {}
    for engine in ("local", "spark"):
        rejects = tmp_path / f"rejects-{engine}.csv"
        out[engine] = invoke("attribute", path, "--fx", SAMPLES / "fx.csv", "-q", "--engine", engine,
                             "--rejects", rejects)
        assert out[engine].exit_code == 2, (engine, out[engine].output)
        assert f"error: {path}: cannot be read (corrupt or truncated data?): " in out[engine].output, engine
        assert "String data contained invalid UTF-8" in out[engine].output, engine
        assert not rejects.exists(), engine  # a refused file, not a quarantined row, on both engines
    assert f"(first in column {column!r}, row {first})" in out["spark"].output


def test_a_user_id_of_bytes_reads_alike_on_both_engines(small, tmp_path):
    """A binary user_id is an id of bytes (io.events.BINARY_USER_ID): bytes that are not UTF-8 are no
    reject on either engine, and both read each id as the hex of its bytes (the same credits)."""
    path, _ = poisoned(tmp_path, "user_id", as_binary=True)
    outs = {}
    for engine in ("local", "spark"):
        out = tmp_path / f"credits-{engine}.csv"
        result = invoke("attribute", path, "--fx", SAMPLES / "fx.csv", "-q", "--engine", engine, "--format", "csv",
                        "--out", out)
        assert result.exit_code == 0, (engine, result.output)
        outs[engine] = out.read_bytes()
    assert outs["spark"] == outs["local"]


@pytest.mark.parametrize("column", ["channel", "country"])
def test_a_binary_value_that_is_not_utf8_is_the_same_reject(small, tmp_path, column):
    path, first = poisoned(tmp_path, column, as_binary=True)
    args = ["attribute", path, "--fx", SAMPLES / "fx.csv", "-q"]
    local, remote = invoke(*args), invoke(*args, "--engine", "spark")
    assert local.exit_code == remote.exit_code == 2, remote.output
    assert f"error: {path}, row {first}, column {column!r}: not UTF-8 text" in local.output
    assert remote.output == local.output
    quarantined = {}
    for engine in ("local", "spark"):
        rejects = tmp_path / f"rejects-{engine}.csv"
        result = invoke(*args, "--engine", engine, "--rejects", rejects, "--format", "csv")
        assert result.exit_code == 0, (engine, result.output)
        quarantined[engine] = (result.output, rejects.read_bytes())
    assert quarantined["spark"] == quarantined["local"]
    assert quarantined["local"][1].count(b"not UTF-8 text") == 3
    assert os.fspath(path).encode() in quarantined["local"][1]


@pytest.mark.parametrize("as_list", [False, True])
def test_a_paths_table_with_text_that_is_not_utf8_is_refused_on_both_engines(small, tmp_path, as_list):
    """A paths table (path as text, or as a list of labels) whose Parquet strings are not UTF-8: the
    local reader's error was an internal error (exit 1, Polars' ComputeError outside decoding()); Spark
    handed the bytes to Polars, which panicked further on (exit 1)."""
    n = 2_000
    paths = [f"a > b{i % 7}" for i in range(n)]
    first = 1_234
    if as_list:
        values = [p.encode().split(b" > ") for p in paths]
        values[first - 1][1] = BAD + values[first - 1][1]
        column = pa.array(values, pa.list_(pa.binary())).cast(pa.list_(pa.string()), safe=False)
    else:
        values = [p.encode() for p in paths]
        values[first - 1] = BAD + values[first - 1]
        column = pa.array(values, pa.binary()).cast(pa.string(), safe=False)
    path = tmp_path / "paths.parquet"
    pq.write_table(pa.table({"path": column, "total_conversions": [1] * n, "total_conversion_value": [2.0] * n,
                             "total_null": [3] * n}), path, row_group_size=700)
    out = {engine: invoke("attribute", path, "--model", "linear", "-q", "--engine", engine)
           for engine in ("local", "spark")}
    for engine, res in out.items():
        assert res.exit_code == 2, (engine, res.output)
        assert f"error: {path}: cannot be read (corrupt or truncated data?): " in res.output, (engine, res.output)
        assert "internal error" not in res.output
    assert "String data contained invalid UTF-8 (first in column 'path', row 1234)" in out["spark"].output
