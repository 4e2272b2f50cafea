"""The Spark engine (issue 11) against the local engine: the same unique-paths table, credits to 1e-12,
byte-identical payouts.csv, rejects.csv and kpis.csv, the same errors.

One Spark session in local mode (``local[2]``) for the whole test run. Partitioning is varied per test
through runtime settings (shuffle partitions, input split size, Arrow batch size and the engine's
chunk size), so users are carried across batches and chunks and paths merged across partitions.
Skipped outside CI when PySpark or Java is missing; in CI a missing PySpark is a failure (``.ci/run``
installs the ``spark`` extra).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from numpy.testing import assert_allclose

import shapley_attr as sa
from shapley_attr.cli import cli
from shapley_attr.config import build_config
from shapley_attr.engines import load
from shapley_attr.errors import InputError
from shapley_attr.pipeline import read_fx

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
IN_CI = os.environ.get("CI", "").lower() == "true"
CHUNK = "spark.shapley_attr.chunkRows"


def _require_spark():
    try:
        import pyspark  # noqa: F401
        import pandas  # noqa: F401 - mapInArrow needs it
    except ImportError:
        if IN_CI:
            pytest.fail("pyspark[sql] missing in CI: .ci/run installs the spark extra")
        pytest.skip("pyspark not installed (pip install -e '.[spark]')")
    from shapley_attr.engines.spark import java_version

    if (java_version() or 0) < 17:
        pytest.skip("Java 17+ not found: the Spark engine cannot start here")


@pytest.fixture(scope="session")
def spark():
    _require_spark()
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("shapley_attr-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "3")
               .config("spark.sql.session.timeZone", "UTC").config("spark.sql.caseSensitive", "true")
               .config("spark.driver.memory", "1g").config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def partitioning(spark):
    """Set runtime settings for one test and restore them after it."""
    touched = {}

    def apply(**conf):
        for key, value in conf.items():
            touched.setdefault(key, spark.conf.get(key, None))
            spark.conf.set(key, str(value))

    yield apply
    for key, value in touched.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_same_table(a, b):
    ta, tb = a.table, b.table
    assert ta.channels == tb.channels
    for name in ("offsets", "codes", "conversions", "value", "nulls"):
        np.testing.assert_array_equal(getattr(ta, name), getattr(tb, name), err_msg=name)
    assert dict(ta.stats) == dict(tb.stats)


def assert_same_loaded(a, b):
    assert_same_table(a, b)
    assert a.rejects.equals(b.rejects), (a.rejects, b.rejects)
    assert a.reconciliation == b.reconciliation
    assert a.order_ids_derived == b.order_ids_derived
    assert a.country_conversions == b.country_conversions
    assert a.country_gmv.keys() == b.country_gmv.keys()
    assert_allclose([b.country_gmv[k] for k in a.country_gmv], list(a.country_gmv.values()), rtol=1e-12)


def both(source, fx_path=None, **options):
    """The LoadedInput of ``source`` on each engine, with the same settings."""
    fx = read_fx(str(fx_path), "EUR") if fx_path else None
    local = load(build_config("attribute", options), source, fx)
    spark = load(build_config("attribute", options | {"engine": "spark"}), source, fx)
    return local, spark


# --- the sample: the monthly run with both engines ------------------------------------------------------
def test_sample_run_is_byte_identical(spark, tmp_path, partitioning):
    partitioning(**{CHUNK: 500, "spark.sql.shuffle.partitions": 4})
    local = invoke("run", "--config", SAMPLES / "run.toml", "--out", tmp_path / "local")
    assert local.exit_code == 0, local.output
    # the engine chosen in run.toml: engine = "spark" and a [spark] table
    config_dir = tmp_path / "config"
    shutil.copytree(SAMPLES, config_dir)
    toml = config_dir / "run.toml"
    toml.write_text('engine = "spark"\n' + toml.read_text()
                    + '\n[spark]\nmaster = "local[2]"\n[spark.conf]\n"spark.sql.shuffle.partitions" = "4"\n')
    remote = invoke("run", "--config", toml, "--out", tmp_path / "spark")
    assert remote.exit_code == 0, remote.output
    for name in ("payouts.csv", "rejects.csv", "kpis.csv", "attribution.csv", "models.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "spark" / name).read_bytes(), name
    a = pl.read_csv(tmp_path / "local" / "attribution.csv")
    b = pl.read_csv(tmp_path / "spark" / "attribution.csv")
    assert_allclose(b["gmv"].to_numpy(), a["gmv"].to_numpy(), rtol=1e-12)
    import json

    m_local = json.loads((tmp_path / "local" / "manifest.json").read_text())
    m_spark = json.loads((tmp_path / "spark" / "manifest.json").read_text())
    assert m_local["engine"] == {"name": "local"}
    engine = m_spark["engine"]
    assert engine["name"] == "spark" and engine["spark_version"].startswith("4.")
    assert engine["master"].startswith("local") and engine["conf"]["spark.sql.shuffle.partitions"] == "4"
    # everything else in the manifest (run id, reconciliation, journeys, order margins, totals) is equal
    assert [k for k in m_local if m_local[k] != m_spark.get(k)] == ["engine", "inputs", "timings_seconds"]
    for name, entry in m_local["inputs"].items():  # the same files, read from the copy run.toml sits in
        assert {k: v for k, v in entry.items() if k != "path"} == {
            k: v for k, v in m_spark["inputs"][name].items() if k != "path"}, name


@pytest.fixture(scope="module")
def sample_pair(spark):
    """The sample's October on both engines (the table every model of the run reads)."""
    return both(str(SAMPLES / "events.parquet"), SAMPLES / "fx.csv", period="2026-10")


@pytest.mark.parametrize("options", [dict(model="shapley", game="rate"), dict(model="markov", order=2),
                                     dict(model="position"), dict(model="shapley", game="ordered"),
                                     dict(model="shapley", game="count"), dict(model="last"),
                                     dict(model="hybrid", game="subset-rate", method="mc", seed=2)])
def test_sample_credits_equal(sample_pair, options):
    from shapley_attr.config import ModelParams
    from shapley_attr.models import fit

    local, remote = sample_pair
    assert_same_loaded(local, remote)
    params = ModelParams(**options)
    a, b = fit(local.table, params), fit(remote.table, params)
    assert a.channels == b.channels
    assert_allclose(b.credit, a.credit, rtol=1e-12)


def test_pilot_countries_equal(spark):
    """Conversions outside the pilot's countries close their journeys unattributed, on both engines."""
    local, remote = both(str(SAMPLES / "events.parquet"), SAMPLES / "fx.csv", period="2026-10", countries="FR,de")
    assert local.table.stats["conversions_outside_countries"] > 0
    assert_same_loaded(local, remote)


def test_api_attribute_on_spark(sample_pair):
    data, fx = str(SAMPLES / "events.parquet"), str(SAMPLES / "fx.csv")
    a = sa.attribute(data, fx=fx, period="2026-10", model="markov")
    b = sa.attribute(data, fx=fx, period="2026-10", model="markov", engine="spark")
    assert a["channel"].to_list() == b["channel"].to_list()
    assert_allclose(b["gmv"].to_numpy(), a["gmv"].to_numpy(), rtol=1e-12)
    assert_allclose(b["conversions"].to_numpy(), a["conversions"].to_numpy(), rtol=1e-12)


def test_spark_dataframe_source(spark, sample_pair):
    """A Spark DataFrame is read where it is (row numbers: its partitions in order)."""
    path = str(SAMPLES / "events.parquet")
    remote = sa.load_table(spark.read.parquet(path), fx=str(SAMPLES / "fx.csv"), period="2026-10", engine="spark")
    assert_same_table(sample_pair[0], remote)
    assert remote.source == "<spark dataframe>"


def test_spark_dataframe_without_the_spark_engine_says_so(spark):
    from shapley_attr.errors import UsageError

    with pytest.raises(UsageError, match="engine='spark'"):
        sa.attribute(spark.read.parquet(str(SAMPLES / "events.parquet")), fx=str(SAMPLES / "fx.csv"))
    with pytest.raises(TypeError, match="expected a path, a polars DataFrame"):
        sa.attribute(42)


def test_arrow_dataset_source_credits_equal_local(spark):
    """A pyarrow Dataset is read as the local engine reads it (Spark's createDataFrame refused one)."""
    import pyarrow.dataset as pads

    from shapley_attr.config import ModelParams
    from shapley_attr.models import fit

    local, remote = both(pads.dataset(str(SAMPLES / "events.parquet")), SAMPLES / "fx.csv", period="2026-10")
    assert_same_loaded(local, remote)
    params = ModelParams(model="shapley", game="rate")
    assert_allclose(fit(remote.table, params).credit, fit(local.table, params).credit, rtol=1e-12)


def test_arrow_table_with_a_column_twice_is_the_local_engines_error(spark):
    import pyarrow as pa

    table = pl.read_parquet(SAMPLES / "events.parquet").to_arrow()
    twice = pa.Table.from_arrays(table.columns + [table.column("channel")], names=table.column_names + ["channel"])
    errors = []
    for engine in ("local", "spark"):
        with pytest.raises(InputError, match="column 'channel' appears 2 times") as info:
            load(build_config("attribute", {"engine": engine}), twice)
        assert info.value.issue.column == "channel"
        errors.append(str(info.value))
    assert errors[0] == errors[1]


# --- the real paths file ------------------------------------------------------------------------------
def test_real_paths_file(spark, real_paths_file):
    local, remote = both(str(real_paths_file))
    assert_same_loaded(local, remote)
    a = sa.attribute(str(real_paths_file), model="shapley", game="rate")
    b = sa.attribute(str(real_paths_file), model="shapley", game="rate", engine="spark")
    assert_allclose(b["gmv"].to_numpy(), a["gmv"].to_numpy(), rtol=1e-12)
    assert_allclose(b["conversions"].to_numpy(), a["conversions"].to_numpy(), rtol=1e-12)


# --- bad rows of every kind -----------------------------------------------------------------------------
def bad_export() -> pl.DataFrame:
    """Good journeys with a bad row of every kind among them, and duplicate order ids whose first row is
    in another chunk, another input split and another user."""
    rows = []
    for u in range(40):
        for k in range(3):
            rows.append((f"u{u:03d}", f"2026-10-{1 + (u + k) % 20:02d}T0{k}:00:00Z", "touch",
                         ["search", "social", "email", "partner:FR-1"][(u + k) % 4], None, None, None, None))
        rows.append((f"u{u:03d}", f"2026-10-{2 + u % 20:02d}T09:00:00Z", "conversion", None, f"o{u % 33}",
                     f"{10 + u}.25", ["EUR", "GBP"][u % 2], "1.5"))
    bad = [
        (None, "2026-10-03T00:00:00Z", "touch", "search", None, None, None, None),
        ("u900", "yesterday", "touch", "search", None, None, None, None),
        ("u901", "2026-10-03T00:00:00Z", "click", "search", None, None, None, None),
        ("u902", "2026-10-03T00:00:00Z", "touch", "  ", None, None, None, None),
        ("u903", "2026-10-03T00:00:00Z", "touch", "(direct)", None, None, None, None),
        ("u904", "2026-10-03T00:00:00Z", "conversion", None, "x1", "-5", "EUR", None),
        ("u905", "2026-10-03T00:00:00Z", "conversion", None, "x2", "12.5", "euro", None),
        ("u906", "2026-10-03T00:00:00Z", "conversion", None, "x3", "12.5", "EUR", "lots"),
        ("u907", "2026-10-03T00:00:00Z", "conversion", None, None, "7.5", "EUR", None),
    ]
    for i, r in enumerate(bad):
        rows.insert(7 + 17 * i, r)
    return pl.DataFrame(rows, schema=["user_id", "event_time", "event_type", "channel", "order_id", "gmv", "currency",
                                      "margin"], orient="row")


@pytest.mark.parametrize("fmt", ["parquet", "csv", "csv-quoted"])
def test_rejects_equal_on_bad_rows_of_every_kind(spark, tmp_path, partitioning, fmt):
    """Parquet in many row groups and splits; CSV in many splits; CSV whose quoted values hold the
    separator and a line end (read whole by Spark, multiLine)."""
    partitioning(**{CHUNK: 37, "spark.sql.shuffle.partitions": 5, "spark.sql.files.maxPartitionBytes": 2048,
                    "spark.sql.execution.arrow.maxRecordsPerBatch": 29})
    frame = bad_export()
    if fmt == "csv-quoted":
        frame = frame.with_columns(pl.col("channel").str.replace("social", "social, paid\nfeed"),
                                   pl.col("event_type").str.replace("click", "cl,ick\n"))
    path = tmp_path / f"events.{fmt.split('-')[0]}"
    if fmt == "parquet":
        frame.write_parquet(path, row_group_size=23)
    else:
        frame.write_csv(path)
        assert (fmt == "csv-quoted") == (b'"' in path.read_bytes())
    local, remote = both(str(path), SAMPLES / "fx.csv", strict=False)
    reasons = set(local.rejects["reason"].str.slice(0, 32).to_list())
    assert len(reasons) >= 9, reasons  # every check and the duplicates
    assert local.rejects.filter(pl.col("reason").str.starts_with("duplicate")).height >= 7
    assert_same_loaded(local, remote)
    # rejects.csv as run writes it: the same bytes
    from shapley_attr.io.tables import frame_csv

    assert frame_csv(local.rejects) == frame_csv(remote.rejects)


def test_parquet_directory_rows_numbered_across_files_in_path_order(spark, tmp_path, partitioning):
    """A directory of Parquet files reads as their concatenation in path order: the same table, and
    rejects whose rows are those of the concatenated file."""
    partitioning(**{CHUNK: 41, "spark.sql.shuffle.partitions": 3})
    frame = bad_export()
    whole = tmp_path / "whole.parquet"
    frame.write_parquet(whole)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, (a, b) in enumerate([(0, 50), (50, 51), (101, 10_000)]):
        frame.slice(a, b).write_parquet(parts / f"part-{i:05d}.parquet", row_group_size=17)
    fx = read_fx(str(SAMPLES / "fx.csv"), "EUR")
    local = load(build_config("attribute", {"strict": False}), str(whole), fx)
    remote = load(build_config("attribute", {"strict": False, "engine": "spark"}), str(parts), fx)
    assert_same_table(local, remote)
    assert local.rejects.drop("source").equals(remote.rejects.drop("source"))
    assert set(remote.rejects["source"]) == {str(parts)}
    local_parts = load(build_config("attribute", {"strict": False}), str(parts), fx)  # the local engine reads them too
    assert_same_table(local_parts, remote)
    assert local_parts.rejects.equals(remote.rejects)
    hive = tmp_path / "hive"  # Hive's part names have no suffix: read by their magic bytes, on both engines
    hive.mkdir()
    for i, part in enumerate(sorted(parts.iterdir())):
        shutil.copy(part, hive / f"{i:06d}_0")
    local_hive, remote_hive = both(str(hive), SAMPLES / "fx.csv", strict=False)
    assert_same_table(local_hive, remote)
    assert_same_table(remote_hive, remote)
    assert local_hive.rejects.equals(remote_hive.rejects) and len(local_hive.rejects) == len(remote.rejects)


def test_parts_that_disagree_are_the_same_error_on_both_engines(spark, tmp_path):
    """Spark read a part without the first part's column as nulls (its gmv: conversions rejected or
    valued 0); both engines refuse the export naming the part and the column."""
    parts = tmp_path / "parts"
    parts.mkdir()
    frame = bad_export()
    frame.slice(0, 60).write_parquet(parts / "part-00000.parquet")
    frame.slice(60).drop("gmv").write_parquet(parts / "part-00001.parquet")
    local, remote = (invoke("attribute", parts, "--currency", "EUR", *engine) for engine in ([], ["--engine", "spark"]))
    assert local.exit_code == remote.exit_code == 2 and remote.output == local.output
    assert f"{parts / 'part-00001.parquet'}, column 'gmv': column 'gmv' of part" in remote.output, remote.output
    import pyarrow as pa
    import pyarrow.parquet as pq

    rest = frame.slice(60).to_arrow()  # a part whose margin is all null, of Arrow's null type: the local
    rest = rest.set_column(rest.schema.get_field_index("margin"), "margin", pa.nulls(len(rest)))  # engine reads it,
    pq.write_table(rest, parts / "part-00001.parquet")  # Spark failed in a task ("corrupt data?"): named now
    local, remote = (invoke("attribute", parts, "--currency", "EUR", *engine) for engine in ([], ["--engine", "spark"]))
    assert "null type" not in local.output and "missing user_id" in local.output, local.output  # its bad rows
    assert remote.exit_code == 2
    assert f"{parts / 'part-00001.parquet'}, column 'margin': column 'margin' is of Arrow's null type" in remote.output


def test_a_gzipped_csv_is_read_alike_by_both_engines(spark, tmp_path):
    """events.csv.gz: Spark decompressed it itself, but the byte checks read the compressed bytes and
    the local engine refused the suffix; both now read the decompressed file (io.readers.decompressed)."""
    import gzip

    plain = tmp_path / "events.csv"
    bad_export().write_csv(plain)
    packed = tmp_path / "events.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    local, remote = both(str(packed), SAMPLES / "fx.csv", strict=False)
    assert_same_table(local, remote)
    assert local.rejects.equals(remote.rejects) and len(local.rejects) > 0
    assert set(remote.rejects["source"]) == {str(packed)}


def test_a_directory_of_csv_parts_is_read_alike_by_both_engines(spark, tmp_path, partitioning):
    """One Spark read of a CSV directory numbered rows in its split order (largest file first), not the
    parts' path order, and skipped the byte checks; both engines now read the parts one after the
    other (io.readers.csv_parts), a gzipped part among them, with the same rejects."""
    import gzip

    partitioning(**{CHUNK: 41, "spark.sql.shuffle.partitions": 3})
    parts = tmp_path / "parts"
    parts.mkdir()
    frame = bad_export()
    for i, (a, n) in enumerate([(0, 50), (50, 30), (80, 10_000)]):
        frame.slice(a, n).write_csv(parts / f"part-{i:05d}.csv")
    packed = parts / "part-00001.csv.gz"
    packed.write_bytes(gzip.compress((parts / "part-00001.csv").read_bytes()))
    (parts / "part-00001.csv").unlink()
    local, remote = both(str(parts), SAMPLES / "fx.csv", strict=False)
    assert_same_table(local, remote)
    assert local.rejects.equals(remote.rejects) and len(local.rejects) > 0
    whole = tmp_path / "whole.csv"
    frame.write_csv(whole)
    alone, _ = both(str(whole), SAMPLES / "fx.csv", strict=False)
    assert alone.rejects.drop("source").equals(remote.rejects.drop("source"))


def test_a_csv_directory_at_a_url_is_read_in_path_order(spark, tmp_path, partitioning, monkeypatch):
    """A directory of CSV parts at a URL (s3a://, gs://, hdfs://) was one Spark read: its rows numbered
    in split order, largest file first, so a reject's row named no line a user could find. It is listed
    through Hadoop's file system and read part after part in path order, as a local directory (here a
    file:// URL taken for a remote one)."""
    import gzip

    from shapley_attr.engines import spark as spark_engine

    partitioning(**{CHUNK: 41, "spark.sql.shuffle.partitions": 3})
    parts = tmp_path / "parts"
    (parts / "_temporary").mkdir(parents=True)
    frame = bad_export()
    for i, (a, n) in enumerate([(0, 50), (50, 30), (80, 10_000)]):  # the largest last
        frame.slice(a, n).write_csv(parts / f"part-{i:05d}.csv")
    packed = parts / "part-00001.csv.gz"
    packed.write_bytes(gzip.compress((parts / "part-00001.csv").read_bytes()))
    (parts / "part-00001.csv").unlink()
    (parts / "_SUCCESS").write_text("")
    (parts / "_temporary" / "part-00009.csv").write_text("not,a,part\n")
    (parts / "part-00003.csv").write_text("")  # an empty part: no header, no rows
    fx = read_fx(str(SAMPLES / "fx.csv"), "EUR")
    local = load(build_config("attribute", {"strict": False}), str(parts), fx)
    monkeypatch.setattr(spark_engine, "_is_local_path", lambda text: False)
    url = parts.as_uri()
    remote = load(build_config("attribute", {"strict": False, "engine": "spark", "input_format": "csv"}), url, fx)
    assert_same_table(local, remote)
    assert len(local.rejects) > 0 and local.rejects.drop("source").equals(remote.rejects.drop("source"))
    assert set(remote.rejects["source"]) == {url}
    # a part with other columns is the local engine's error (it was Spark's planning failure, exit 1)
    frame.slice(0, 5).rename({"gmv": "revenue"}).write_csv(parts / "part-00004.csv")
    config = build_config("attribute", {"strict": False, "engine": "spark", "input_format": "csv"})
    with pytest.raises(InputError, match=r"the header is not the one of part .*part-00000.csv \(first difference: "
                                         r"column 'revenue'\)") as info:
        load(config, url, fx)
    where = (parts / "part-00004.csv").as_uri().replace("file:///", "file:/")  # as Hadoop writes the URL
    assert str(info.value).startswith(where), str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "part-00000.csv").write_text("")
    with pytest.raises(InputError, match="the directory's CSV parts are all empty"):
        load(config, empty.as_uri(), fx)


def test_a_hudi_or_iceberg_directory_is_refused_by_both_engines(spark, tmp_path):
    """Spark read such a table as a directory of Parquet files: every kept version's rows counted."""
    parts = tmp_path / "table"
    parts.mkdir()
    bad_export().write_parquet(parts / "part-0.parquet")
    (parts / "metadata").mkdir()
    (parts / "metadata" / "v1.metadata.json").write_text("{}")
    local, remote = (invoke("attribute", parts, "--currency", "EUR", *engine) for engine in ([], ["--engine", "spark"]))
    assert local.exit_code == remote.exit_code == 2 and remote.output == local.output
    assert "is an Iceberg table (metadata/)" in remote.output, remote.output


def test_bad_row_is_exit_2_naming_file_row_and_column(spark, tmp_path):
    path = tmp_path / "events.parquet"
    bad_export().write_parquet(path)
    local = invoke("attribute", path, "--currency", "EUR")
    remote = invoke("attribute", path, "--currency", "EUR", "--engine", "spark")
    assert local.exit_code == remote.exit_code == 2
    assert f"{path}, row 8, column 'user_id'" in remote.output
    assert remote.output == local.output


def test_a_decimal_wider_than_38_digits_is_exit_2_naming_it(spark, tmp_path):
    """Spark cannot load a Parquet file with a decimal of more than 38 digits in any column (BigQuery's
    BIGNUMERIC), used or not: it was an internal error (exit 1). A file is refused naming the column
    (from its footer); a directory by its first part (every part has its columns: io.readers.parquet_parts)."""
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    base = {"user_id": ["u1", "u1"], "event_time": ["2026-10-01T10:00:00Z", "2026-10-01T11:00:00Z"],
            "event_type": ["touch", "conversion"], "channel": ["email", None], "gmv": [None, "10.5"],
            "currency": [None, "EUR"], "bignum": pa.array([Decimal(1), Decimal(2)], pa.decimal256(70, 2))}
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table(base), path)
    result = invoke("attribute", path, "--model", "last", "--engine", "spark")
    assert result.exit_code == 2 and f"{path}, column 'bignum'" in result.output, result.output
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(path, folder / "part-0.parquet")
    result = invoke("attribute", folder, "--model", "last", "--engine", "spark", "--input-format", "parquet")
    assert result.exit_code == 2 and f"{folder / 'part-0.parquet'}, column 'bignum'" in result.output, result.output


def test_parquet_types_spark_cannot_load_are_exit_2_naming_the_column(spark, tmp_path):
    """A TIME or a UUID column fails Spark's planning of the whole file (an internal error, exit 1); a
    duration in a contract column was read by Spark as plain integers (epoch times in 1970, exit 0)
    where the local engine refuses it: now exit 2 naming the column, the duration with the local
    engine's own message, and a directory by its first part's footer."""
    import datetime as dt
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq

    base = {"user_id": ["u1", "u1"], "event_time": ["2026-10-01T10:00:00Z", "2026-10-01T11:00:00Z"],
            "event_type": ["touch", "conversion"], "channel": ["email", None], "gmv": [None, "10.5"],
            "currency": [None, "EUR"]}
    cases = {"extra": pa.array([dt.time(10), dt.time(11)], pa.time64("us"))}
    if hasattr(pa, "uuid"):  # pyarrow 18 and later write Parquet's UUID type
        cases["user_id"] = pa.ExtensionArray.from_storage(pa.uuid(), pa.array([uuid.uuid4().bytes] * 2,
                                                                                 pa.binary(16)))
    for column, values in cases.items():
        path = tmp_path / f"{column}.parquet"
        pq.write_table(pa.table(base | {column: values}), path)
        result = invoke("attribute", path, "--model", "last", "--engine", "spark")
        assert result.exit_code == 2 and f"{path}, column {column!r}" in result.output, result.output
        folder = tmp_path / f"dir_{column}"
        folder.mkdir()
        shutil.copy(path, folder / "part-0.parquet")
        result = invoke("attribute", folder, "--model", "last", "--engine", "spark", "--input-format", "parquet")
        assert result.exit_code == 2 and f"{folder / 'part-0.parquet'}, column {column!r}" in result.output, \
            result.output
    path = tmp_path / "duration.parquet"
    pq.write_table(pa.table(base | {"event_time": pa.array([1, 2], pa.duration("s"))}), path)
    local, remote = (invoke("attribute", path, "--model", "last", *engine) for engine in ([], ["--engine", "spark"]))
    assert local.exit_code == remote.exit_code == 2 and remote.output == local.output, remote.output


def test_missing_fx_rate_is_the_same_error(spark, tmp_path):
    fx = tmp_path / "fx.csv"
    fx.write_text("".join(line for line in (SAMPLES / "fx.csv").read_text().splitlines(keepends=True)
                          if ",JPY," not in line))
    args = ["attribute", SAMPLES / "events.parquet", "--fx", fx, "--period", "2026-10"]
    local = invoke(*args)
    remote = invoke(*args, "--engine", "spark")
    assert local.exit_code == remote.exit_code == 2
    assert "no FX rate for JPY" in remote.output
    assert remote.output == local.output


def test_time_decay_and_bootstrap_refused_with_reasons(spark):
    data = str(SAMPLES / "events.parquet")
    td = invoke("attribute", data, "--model", "time-decay", "--currency", "EUR", "--engine", "spark")
    assert td.exit_code == 2 and "time-decay model is not available on --engine spark" in td.output
    assert "--engine local" in td.output
    bs = invoke("attribute", data, "--bootstrap", "100", "--engine", "spark")
    assert bs.exit_code == 2 and "--bootstrap is not available on --engine spark" in bs.output


def test_corrupt_page_is_exit_2_naming_the_file(spark, tmp_path):
    """A Parquet file whose footer is sound but whose data pages are not: Spark's read fails, and that is
    bad input (exit 2 naming the file), as with the local engine."""
    import pyarrow.parquet as pq

    path = tmp_path / "events.parquet"
    pl.read_parquet(SAMPLES / "events.parquet").write_parquet(path, compression="zstd")
    chunk = max((pq.ParquetFile(path).metadata.row_group(0).column(i) for i in range(8)),
                key=lambda c: c.total_compressed_size)
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset + 64  # past the page header: the compressed values themselves
    for i in range(start, start + chunk.total_compressed_size // 2, 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    local = invoke("attribute", path, "--currency", "EUR")
    remote = invoke("attribute", path, "--currency", "EUR", "--engine", "spark")
    assert local.exit_code == remote.exit_code == 2, remote.output
    assert f"error: {path}: cannot be read" in remote.output


def test_failed_spark_job_is_exit_1_with_sparks_message(spark, monkeypatch):
    """A task that fails on an executor fails the job: exit 1 with the failure, not a hang."""
    from shapley_attr.engines import _spark_tasks

    def failing_cut(*args, **kwargs):
        def run(batches):
            raise RuntimeError("the executor ran out of luck")
            yield  # a generator, as mapInArrow expects

        return run

    monkeypatch.setattr(_spark_tasks, "cut_task", failing_cut)
    result = invoke("attribute", SAMPLES / "events.parquet", "--fx", SAMPLES / "fx.csv", "--engine", "spark")
    assert result.exit_code == 1, result.output
    assert "internal error: SparkJobFailed: Spark job failed on" in result.output
    assert "RuntimeError: the executor ran out of luck" in result.output


def test_no_java_is_exit_2_with_what_to_install(tmp_path):
    """A fresh process without Java: refused before Spark starts (no JVM, no hang)."""
    pytest.importorskip("pyspark")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # nothing on it: no java
    proc = subprocess.run([sys.executable, "-m", "shapley_attr", "attribute", str(SAMPLES / "events.parquet"),
                           "--engine", "spark"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "needs Java 17 or newer" in proc.stderr and "JAVA_HOME" in proc.stderr
    assert shutil.which("java", path=env["PATH"]) is None


# --- property-generated exports, several partitionings ------------------------------------------------
@st.composite
def exports(draw):
    n_users = draw(st.integers(1, 25))
    rows = []
    for u in range(n_users):
        for _ in range(draw(st.integers(1, 12))):
            day = draw(st.integers(1, 60))
            second = draw(st.sampled_from([0, 0, 30, 3599]))
            t = f"2026-{9 + (day > 30):02d}-{(day - 1) % 30 + 1:02d}T{second // 3600:02d}:{second % 3600 // 60:02d}:00Z"
            if draw(st.integers(0, 4)) == 0:
                rows.append((f"user-{u}", t, "conversion", None, f"o{draw(st.integers(0, 30))}",
                             draw(st.sampled_from(["10.5", "0.1", "99999.999999", "3", "-1", "x"])),
                             draw(st.sampled_from(["EUR", "GBP", "", "eur"]))))
            else:
                rows.append((f"user-{u}", t, draw(st.sampled_from(["touch", "touch", "touch", "view"])),
                             draw(st.sampled_from(["a", "b", "c", "partner:P1", "", "(direct)"])), None, None, None))
    return pl.DataFrame(rows, schema=["user_id", "event_time", "event_type", "channel", "order_id", "gmv", "currency"],
                        orient="row")


@settings(max_examples=6, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # no shrinking: a Spark load is seconds
@given(frame=exports(), parts=st.sampled_from([1, 2, 7]), chunk=st.sampled_from([3, 50, 1_000_000]),
       lookback=st.sampled_from([1.0, 30.0]))
def test_generated_exports_equal_local(spark, tmp_path_factory, partitioning, frame, parts, chunk, lookback):
    partitioning(**{CHUNK: chunk, "spark.sql.shuffle.partitions": parts, "spark.sql.files.maxPartitionBytes": 1024,
                    "spark.sql.execution.arrow.maxRecordsPerBatch": 11})
    path = tmp_path_factory.mktemp("export") / "events.parquet"
    frame.write_parquet(path, row_group_size=13)

    outcomes = []
    for engine in ("local", "spark"):
        try:
            outcomes.append(load(build_config("attribute", dict(strict=False, period="2026-10", lookback_days=lookback,
                                                                 currency="EUR", engine=engine)), str(path)))
        except InputError as exc:  # e.g. mixed currencies without FX rates: the same message
            outcomes.append(str(exc))
    local, remote = outcomes
    if isinstance(local, str):
        assert remote == local
    else:
        assert_same_loaded(local, remote)


# --- never a hang: a job whose work no executor takes is cancelled -----------------------------------
class _Stage:
    def __init__(self, tasks, active=0, done=0, failed=0):
        self.numTasks, self.numActiveTasks, self.numCompletedTasks, self.numFailedTasks = tasks, active, done, failed


class _Tracker:
    def __init__(self):
        self.stage = _Stage(4)

    def getJobIdsForGroup(self, group):
        return [7]

    def getJobInfo(self, job):
        return type("Job", (), {"status": "RUNNING", "stageIds": [3]})()

    def getStageInfo(self, stage):
        return self.stage


class _Context:
    def __init__(self):
        self.tracker, self.cancelled = _Tracker(), []

    def statusTracker(self):
        return self.tracker

    def cancelJobGroup(self, group):
        self.cancelled.append(group)


def test_watchdog_cancels_jobs_no_executor_takes():
    pytest.importorskip("pyspark")
    from shapley_attr.engines.spark import Watchdog

    sc = _Context()
    dog = Watchdog(sc, "g", timeout=60)
    assert not dog.check(0.0) and not dog.check(30.0)  # waiting, not yet for long
    sc.tracker.stage = _Stage(4, active=1)  # a task runs: not starving, whatever its length
    assert not dog.check(100.0) and not dog.check(1000.0)
    sc.tracker.stage = _Stage(4, done=1)  # progress, then nothing runs any more
    assert not dog.check(1001.0) and not dog.check(1030.0)  # idle from 1030 on
    assert not dog.check(1089.0) and sc.cancelled == []
    assert dog.check(1091.0) and dog.fired and sc.cancelled == ["g"]
    assert "no executor" in dog.message


def test_watchdog_cancellation_is_exit_1_saying_why(spark, monkeypatch):
    """A real job cancelled by the watchdog ends the command with exit 1 saying why. (Here the watchdog
    is made to fire on any running job of the load, and the first job is kept busy long enough.)"""
    from shapley_attr.engines import _spark_tasks, spark as engine

    def fire_when_running(self, now):
        tracker = self.sc.statusTracker()
        if any(str(tracker.getJobInfo(j).status) == "RUNNING" for j in tracker.getJobIdsForGroup(self.group)):
            self.fired = True
            self.sc.cancelJobGroup(self.group)
            return True
        return False

    def slow_dictionary(*args, **kwargs):
        def run(batches):
            import time

            time.sleep(20)
            yield from ()

        return run

    monkeypatch.setattr(engine.Watchdog, "check", fire_when_running)
    monkeypatch.setattr(_spark_tasks, "dictionary_task", slow_dictionary)
    result = invoke("attribute", SAMPLES / "events.parquet", "--fx", SAMPLES / "fx.csv", "--engine", "spark")
    assert result.exit_code == 1, result.output
    assert "Spark job cancelled on" in result.output and "no executor" in result.output


# --- found by a hostile battery of the Spark engine ------------------------------------------------------
def test_the_command_off_the_path_reads_nanosecond_parquet_like_local(tmp_path):
    """The venv's command run without the venv on the PATH: PySpark started its workers with the
    first python3 (no pyarrow: every job failed); a Parquet timestamp in nanoseconds was refused by
    Spark's reader (PARQUET_TYPE_ILLEGAL, exit 1)."""
    _require_spark()
    events = pl.read_parquet(SAMPLES / "events.parquet")
    events = events.with_columns(pl.col("event_time").cast(pl.Datetime("ns", "UTC")))
    events.write_parquet(tmp_path / "ns.parquet")
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    command = [sys.executable, "-m", "shapley_attr", "attribute", str(tmp_path / "ns.parquet"), "--fx",
               str(SAMPLES / "fx.csv"), "--model", "last", "--format", "csv", "--quiet"]
    local = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    remote = subprocess.run(command + ["--engine", "spark", "--spark-master", "local[1]"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert remote.stdout == local.stdout


def test_a_java_home_without_java_is_said(monkeypatch, tmp_path):
    from shapley_attr.engines.spark import check_java
    from shapley_attr.errors import UsageError

    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="JAVA_HOME is .*nowhere, which has no working bin/java"):
        check_java()


def test_a_session_that_cannot_start_is_spark_s_message():
    _require_spark()
    from py4j.protocol import Py4JError

    from shapley_attr.engines.spark import SparkJobFailed, _session_errors

    with pytest.raises(SparkJobFailed, match="could not start a session on spark://nowhere:7077: .*Cannot call "
                                             "methods on a stopped SparkContext") as info:
        with _session_errors("spark://nowhere:7077"):
            raise Py4JError("An error occurred\njava.lang.IllegalStateException: Cannot call methods on a stopped "
                            "SparkContext.\n\tat org.apache.spark.SparkContext.assertNotStopped(SparkContext.scala:122)")
    assert "SparkContext.scala" not in str(info.value)  # no JVM stack


def test_a_directory_or_a_url_reaches_the_engine(tmp_path):
    """click refused a directory of Parquet parts for both engines ('is a directory') and pathlib read
    s3a://bucket/x as the local file s3a:/bucket/x (file not found, after starting Spark)."""
    (tmp_path / "parts").mkdir()
    res = CliRunner().invoke(cli, ["attribute", str(tmp_path / "parts")])
    assert res.exit_code == 2 and "directory holds no data files" in res.output, res.output
    res = CliRunner().invoke(cli, ["attribute", "s3a://bucket/events/"])
    assert res.exit_code == 2 and "s3a://bucket/events/: a URL is read by the Spark engine" in res.output, res.output


def test_blank_csv_lines_are_skipped_by_both_engines(spark, tmp_path):
    """Spark's CSV reader skips a blank line; the local engine read it as a row of nulls (a reject, and
    every later row numbered one higher)."""
    from tests.test_bad_input import BLANK_HEADER, BLANK_ROWS

    text = (BLANK_HEADER + "\n" + BLANK_ROWS[0] + "\n" + "".join(BLANK_ROWS[1:4]) + "\n" + "".join(BLANK_ROWS[4:])
            + "\n\n")
    for name, content in (("lf.csv", text), ("crlf.csv", text.replace("\n", "\r\n"))):
        path = tmp_path / name
        path.write_text(content, newline="")
        local, remote = both(str(path), strict=False)
        assert local.rejects.select("row", "column").rows() == [(4, "gmv")], name
        assert remote.rejects.equals(local.rejects), name
        assert remote.reconciliation.rows_read == local.reconciliation.rows_read == len(BLANK_ROWS), name


def test_a_sql_setting_spark_cannot_parse_is_refused_not_looped_on(tmp_path):
    """--spark-conf spark.sql.shuffle.partitions=abc: the first query's error and every error PySpark
    converted after it read the settings again, a loop that never ended (killed at 400 s). A static
    setting (spark.sql.warehouse.dir) still reaches the session, which starts again for it."""
    _require_spark()
    base = [sys.executable, "-m", "shapley_attr", "attribute", str(SAMPLES / "events.parquet"), "--engine", "spark",
            "--spark-master", "local[1]", "--fx", str(SAMPLES / "fx.csv"), "--model", "last"]
    done = subprocess.run(base + ["--spark-conf", "spark.sql.shuffle.partitions=abc", "--out", str(tmp_path / "o.csv")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--spark-conf spark.sql.shuffle.partitions=abc: Spark refuses the value" in done.stderr
    assert not (tmp_path / "o.csv").exists()
    done = subprocess.run(base + ["--spark-conf", f"spark.sql.warehouse.dir={tmp_path / 'wh'}", "--spark-conf",
                                  "spark.sql.shuffle.partitions=3", "--out", str(tmp_path / "p.csv")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "p.csv").exists()
