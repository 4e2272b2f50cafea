"""Export layouts beyond one plain file: a directory of Parquet parts (as Spark, Hive and warehouse
unloads write them) read as one input, the parts in path order, rows numbered across them, errors
naming the part; a compressed CSV file read as the CSV file itself."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from shapley_attr.errors import InputError
from shapley_attr.manifest import file_digest

from .helpers import load

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
CUTS = [(0, 1000), (1000, 0), (1000, 2500), (3500, 10_000)]  # an empty part among them


def split(frame: pl.DataFrame, directory: Path, cuts=CUTS, names=None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (a, n) in enumerate(cuts):
        path = directory / (names[i] if names else f"part-{i:05d}.parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.slice(a, n).write_parquet(path, row_group_size=333)
        paths.append(path)
    return paths


def with_bad_rows(frame: pl.DataFrame, rows: dict[int, str]) -> pl.DataFrame:
    """``frame`` with the event type of the given 0-based rows replaced."""
    at = pl.int_range(pl.len())
    expr = pl.col("event_type")
    for i, value in rows.items():
        expr = pl.when(at == i).then(pl.lit(value)).otherwise(expr)
    return frame.with_columns(expr.alias("event_type"))


def test_parts_read_as_their_concatenation_in_path_order(tmp_path):
    """The same table and rejects as the one file the parts were cut from, whatever the names' order on
    disk; the files Spark and Hadoop skip (_SUCCESS, .crc, _temporary/) are skipped."""
    frame = with_bad_rows(pl.read_parquet(SAMPLES / "events.parquet"), {5: "click", 2400: "nope", 5000: "x"})
    whole = tmp_path / "whole.parquet"
    frame.write_parquet(whole)
    parts = tmp_path / "export"
    split(frame, parts)
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-00000.parquet.crc").write_bytes(b"\x00crc")
    (parts / "_temporary" / "0").mkdir(parents=True)
    frame.head(3).write_parquet(parts / "_temporary" / "0" / "part-9.parquet")
    one, report_one = load(whole, strict=False, currency="EUR", fx=str(SAMPLES / "fx.csv"))
    many, report_many = load(parts, strict=False, currency="EUR", fx=str(SAMPLES / "fx.csv"))
    assert report_many.reconciliation.rows_read == len(frame) == report_one.reconciliation.rows_read
    assert report_many.rejects.get_column("row").to_list() == [6, 2401, 5001]
    assert report_many.rejects.drop("source").equals(report_one.rejects.drop("source"))
    assert set(report_many.rejects.get_column("source")) == {str(parts)}
    for name in ("offsets", "codes", "conversions", "value", "nulls", "channels"):
        a, b = getattr(one, name), getattr(many, name)
        assert (a == b if isinstance(a, tuple) else (a == b).all()), name


def test_a_bad_row_names_the_directory_row_and_the_part_row(tmp_path):
    frame = with_bad_rows(pl.read_parquet(SAMPLES / "events.parquet"), {3600: "click"})
    parts = split(frame, tmp_path / "export")
    with pytest.raises(InputError) as info:
        load(tmp_path / "export", currency="EUR", fx=str(SAMPLES / "fx.csv"))
    assert str(info.value).startswith(f"{tmp_path / 'export'}, row 3601 ({parts[3]}, row 101), column 'event_type'")


def test_parts_that_disagree_are_refused_naming_the_part_and_column(tmp_path):
    frame = pl.read_parquet(SAMPLES / "events.parquet")
    cases = {
        "type": lambda f: f.with_columns(pl.col("gmv").cast(pl.Float64)),
        "missing": lambda f: f.drop("margin"),
        "extra": lambda f: f.with_columns(pl.lit("x").alias("campaign")),
    }
    for case, change in cases.items():
        parts = split(frame, tmp_path / case, [(0, 3000), (3000, 10_000)])
        change(pl.read_parquet(parts[1])).write_parquet(parts[1])
        with pytest.raises(InputError) as info:
            load(tmp_path / case, currency="EUR")
        column = {"type": "gmv", "missing": "margin", "extra": "campaign"}[case]
        assert str(info.value).startswith(f"{parts[1]}, column {column!r}: "), str(info.value)
        assert str(parts[0]) in str(info.value) and "parts of one export" in str(info.value)


def test_a_link_to_a_directory_is_not_followed_and_a_link_to_a_file_is_read(tmp_path):
    """A link back up the tree (``export/loop -> export``) walked for ever, reading every part again at
    each level; a part that is a link to a file is a part."""
    from shapley_attr.io.readers import data_files

    frame = pl.read_parquet(SAMPLES / "events.parquet")
    parts = split(frame, tmp_path / "export", [(0, 3000)])
    elsewhere = tmp_path / "elsewhere.parquet"
    frame.slice(3000).write_parquet(elsewhere)
    (tmp_path / "export" / "part-00001.parquet").symlink_to(elsewhere)
    (tmp_path / "export" / "loop").symlink_to(tmp_path / "export", target_is_directory=True)
    assert data_files(tmp_path / "export") == [parts[0], tmp_path / "export" / "part-00001.parquet"]
    table, report = load(tmp_path / "export", currency="EUR", fx=str(SAMPLES / "fx.csv"))
    assert report.reconciliation.rows_read == len(frame)


@pytest.mark.parametrize("null_first", [False, True])
def test_a_part_whose_column_is_all_null_takes_the_other_parts_type(tmp_path, null_first):
    """pyarrow writes a column without a value in a shard as Arrow's null type: such a part was refused
    (or, first, made Polars refuse the others); it reads as nulls of the other parts' type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pl.read_parquet(SAMPLES / "events.parquet")
    parts = split(frame, tmp_path / "export", [(0, 3000), (3000, 10_000)],
                  names=["b.parquet", "a.parquet"] if null_first else None)
    rest = frame.slice(3000).to_arrow()
    rest = rest.set_column(rest.schema.get_field_index("margin"), "margin", pa.nulls(len(rest)))
    pq.write_table(rest, parts[1])
    whole = tmp_path / "whole.parquet"
    pl.concat([frame.slice(0, 3000), frame.slice(3000).with_columns(pl.lit(None, pl.Utf8).alias("margin"))]
              ).write_parquet(whole)
    one, report_one = load(whole, fx=str(SAMPLES / "fx.csv"))
    many, report_many = load(tmp_path / "export", fx=str(SAMPLES / "fx.csv"))
    assert report_many.reconciliation.rows_read == len(frame)
    assert set(one.channels) == set(many.channels) and one.value.sum() == pytest.approx(many.value.sum(), rel=1e-12)
    typed = frame.slice(3000).with_columns(pl.col("margin").cast(pl.Float64))  # a real second type: refused
    typed.write_parquet(parts[1])
    with pytest.raises(InputError, match="column 'margin' is (Float64 here, String|String here, Float64) in part"):
        load(tmp_path / "export")


@pytest.mark.parametrize("marker,files,kind", [
    ("_delta_log", ["00000000000000000000.json"], "a Delta table"),
    (".hoodie", ["hoodie.properties"], "a Hudi table"),
    ("metadata", ["v1.metadata.json"], "an Iceberg table"),
])
def test_a_table_format_directory_is_refused_not_read_file_by_file(tmp_path, marker, files, kind):
    """A Delta (Hudi, Iceberg) table keeps the files of replaced versions beside the current ones: read
    file by file, a rewritten month counted its rows twice (exit 0, every total doubled)."""
    frame = pl.read_parquet(SAMPLES / "events.parquet")
    table = tmp_path / "table"
    split(frame, table, [(0, 10_000)], names=["part-00000-v0.parquet"])
    split(frame, table, [(0, 10_000)], names=["part-00000-v1.parquet"])  # version 1 rewrote version 0
    (table / marker).mkdir()
    for name in files:
        (table / marker / name).write_text("{}")
    with pytest.raises(InputError, match=f"is {kind} \\({re.escape(marker)}/\\): its data files include rows of "
                                         "earlier versions"):
        load(table)


def test_a_directory_named_metadata_without_iceberg_files_is_no_table(tmp_path):
    frame = pl.read_parquet(SAMPLES / "events.parquet")
    split(frame, tmp_path / "export", [(0, 10_000)])
    (tmp_path / "export" / "metadata").mkdir()
    split(frame, tmp_path / "export" / "metadata", [(0, 0)])  # an empty part there: read, no rows
    table, report = load(tmp_path / "export", currency="EUR", fx=str(SAMPLES / "fx.csv"))
    assert report.reconciliation.rows_read == len(frame)


def test_a_directory_without_parquet_parts_is_refused(tmp_path):
    empty = tmp_path / "empty"
    (empty / "_temporary").mkdir(parents=True)
    (empty / "_SUCCESS").write_text("")
    with pytest.raises(InputError, match="directory holds no data files"):
        load(empty)
    mixed = tmp_path / "mixed"
    split(pl.read_parquet(SAMPLES / "events.parquet"), mixed, [(0, 100)])
    (mixed / "zz.csv").write_text("a,b\n1,2\n")  # the first part in path order says what the parts are
    with pytest.raises(InputError, match=r"zz\.csv: a csv file among the Parquet parts of the directory export"):
        load(mixed)
    (mixed / "zz.csv").rename(mixed / "notes.csv")
    with pytest.raises(InputError, match=r"part-00000\.parquet: a parquet file among the CSV parts of the directory"):
        load(mixed)
    broken = tmp_path / "broken"
    split(pl.read_parquet(SAMPLES / "events.parquet"), broken, [(0, 100), (100, 100)])
    data = (broken / "part-00001.parquet").read_bytes()
    (broken / "part-00001.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"part-00001\.parquet: cannot be read as parquet"):
        load(broken)


def test_a_part_without_a_suffix_is_read_by_its_magic_bytes(tmp_path):
    frame = pl.read_parquet(SAMPLES / "events.parquet")
    split(frame, tmp_path / "export", [(0, 3000), (3000, 10_000)], names=["000000_0", "000001_0"])
    table, report = load(tmp_path / "export", currency="EUR", fx=str(SAMPLES / "fx.csv"))
    assert report.reconciliation.rows_read == len(frame)


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_hive_partitions_become_columns(tmp_path, suffix):
    """country=DE/part-0.parquet: the country comes from the directory's name, as Spark reads it."""
    frame = pl.read_parquet(SAMPLES / "events.parquet").with_columns(pl.col("country").fill_null("XX"))
    for country, part in frame.partition_by("country", as_dict=True, maintain_order=True).items():
        folder = tmp_path / "export" / f"country={country[0]}"
        folder.mkdir(parents=True)
        getattr(part.drop("country"), f"write_{suffix}")(folder / f"part-0.{suffix}")
    table, report = load(tmp_path / "export", fx=str(SAMPLES / "fx.csv"))
    countries = set(frame.filter(pl.col("event_type") == "conversion").get_column("country"))
    assert set(report.country_gmv) == countries
    assert report.reconciliation.rows_read == len(frame)


def test_the_run_hashes_a_directory_by_its_parts(tmp_path):
    """``run`` on a directory export: the same payouts as on the one file (but the run id), the manifest's
    digest of the parts (the same on a rerun, another when a part changes)."""
    frame = pl.read_parquet(SAMPLES / "events.parquet")
    config = tmp_path / "config"
    shutil.copytree(SAMPLES, config, ignore=shutil.ignore_patterns("runs"))
    split(frame, config / "export")
    toml = (config / "run.toml").read_text().replace('events = "events.parquet"', 'events = "export"')
    (config / "dir.toml").write_text(toml)

    def run(name, out):
        done = subprocess.run([sys.executable, "-m", "shapley_attr", "run", "--config", str(config / name), "--out",
                               str(out), "--quiet"], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads((out / "manifest.json").read_text())

    by_file, by_dir = run("run.toml", tmp_path / "file"), run("dir.toml", tmp_path / "dir")
    events = by_dir["inputs"]["events"]
    assert events["path"] == str(config / "export") and events["size"] == sum(
        p.stat().st_size for p in (config / "export").iterdir())
    assert events["sha256"] == file_digest(config / "export")["sha256"] != by_file["inputs"]["events"]["sha256"]
    if shutil.which("sha256sum"):  # what an auditor runs: sha256sum of the parts, from the directory, hashed
        names = sorted(p.name for p in (config / "export").iterdir())
        listing = subprocess.run(["sha256sum", *names], cwd=config / "export", capture_output=True, check=True).stdout
        assert events["sha256"] == hashlib.sha256(listing).hexdigest()
    drop_run = [i for i, c in enumerate((tmp_path / "dir" / "payouts.csv").read_text().splitlines()[0].split(","))
                if c == "run_id"]
    strip = (lambda text: [",".join(v for i, v in enumerate(line.split(",")) if i not in drop_run)
                           for line in text.splitlines()])
    assert strip((tmp_path / "dir" / "payouts.csv").read_text()) == strip((tmp_path / "file" / "payouts.csv").read_text())
    assert (tmp_path / "dir" / "attribution.csv").read_bytes() == (tmp_path / "file" / "attribution.csv").read_bytes()
    assert run("dir.toml", tmp_path / "again")["run_id"] == by_dir["run_id"]
    frame.slice(0, 1000).with_columns(pl.col("channel").str.to_uppercase()).write_parquet(
        config / "export" / "part-00000.parquet", row_group_size=333)
    assert file_digest(config / "export")["sha256"] != events["sha256"]


def test_a_url_is_recorded_without_a_hash():
    digest = file_digest("s3a://bucket/events/")
    assert digest["path"] == "s3a://bucket/events/" and digest["sha256"] is None and digest["not_hashed"]


# --- compressed CSV ---------------------------------------------------------------------------------
COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


def sample_csv(tmp_path: Path, bad_row: int | None = None) -> Path:
    frame = pl.read_parquet(SAMPLES / "events.parquet")
    if bad_row is not None:
        frame = with_bad_rows(frame, {bad_row - 1: "click"})
    path = tmp_path / "events.csv"
    frame.write_csv(path)
    return path


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_compressed_csv_reads_as_the_csv_itself(tmp_path, suffix):
    plain = sample_csv(tmp_path, bad_row=777)
    packed = tmp_path / f"events.csv{suffix}"
    packed.write_bytes(COMPRESSORS[suffix](plain.read_bytes()))
    one, report_one = load(plain, strict=False, fx=str(SAMPLES / "fx.csv"))
    two, report_two = load(packed, strict=False, fx=str(SAMPLES / "fx.csv"))
    assert report_two.rejects.get_column("row").to_list() == [777]
    assert report_two.rejects.drop("source").equals(report_one.rejects.drop("source"))
    assert set(report_two.rejects.get_column("source")) == {str(packed)}
    assert report_two.reconciliation.rows_read == report_one.reconciliation.rows_read
    assert (one.value == two.value).all() and one.channels == two.channels and (one.codes == two.codes).all()
    with pytest.raises(InputError) as info:
        load(packed, fx=str(SAMPLES / "fx.csv"))
    assert str(info.value).startswith(f"{packed}, row 777, column 'event_type'")


def test_compressed_files_that_cannot_be_read_are_refused_naming_them(tmp_path):
    data = gzip.compress(sample_csv(tmp_path).read_bytes())
    cases = {
        "cut.csv.gz": (data[: len(data) // 2], "cannot be decompressed as gzip .*EOFError"),
        "plain.csv.gz": (b"user_id,event_time\n", "cannot be decompressed as gzip .*BadGzipFile"),
        "empty.csv.gz": (gzip.compress(b""), "file is empty once decompressed"),
        "events.parquet.gz": (gzip.compress((SAMPLES / "events.parquet").read_bytes()),
                              "a gzip-compressed parquet file: only CSV is read compressed"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError, match=message) as info:
            load(tmp_path / name)
        assert str(info.value).startswith(f"{tmp_path / name}: "), str(info.value)


def test_the_decompressed_copy_is_removed_when_the_command_ends(tmp_path):
    packed = tmp_path / "events.csv.gz"
    packed.write_bytes(gzip.compress(sample_csv(tmp_path).read_bytes()))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = os.environ | {"TMPDIR": str(scratch)}
    for args, status in ((["--fx", str(SAMPLES / "fx.csv")], 0), ([], 2)):  # a mixed-currency error too
        done = subprocess.run([sys.executable, "-m", "shapley_attr", "attribute", str(packed), "--quiet", "--out",
                               str(tmp_path / "credits.csv"), *args], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == status, done.stderr
        assert list(scratch.iterdir()) == []


def test_the_api_removes_the_decompressed_copy_once_the_input_is_read(tmp_path, monkeypatch):
    """A pipeline's long-lived worker calling the API on export after export kept every decompressed
    copy in TMPDIR until it exited; the copy now lives while the input is read, error or not."""
    import tempfile

    from shapley_attr.api import load_table

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    packed = tmp_path / "events.csv.gz"
    packed.write_bytes(gzip.compress(sample_csv(tmp_path).read_bytes()))
    loaded = load_table(str(packed), fx=str(SAMPLES / "fx.csv"))
    assert loaded.table.n_paths > 0 and loaded.source == str(packed)
    assert list(scratch.iterdir()) == []
    with pytest.raises(InputError, match="mixed currencies"):
        load_table(str(packed))
    assert list(scratch.iterdir()) == []


# --- a directory of CSV parts (BigQuery's sharded exports, Spark's CSV output) -------------------------
def csv_parts(frame: pl.DataFrame, directory: Path, cuts, compress=None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (a, n) in enumerate(cuts):
        path = directory / f"events-{i:012d}.csv"
        frame.slice(a, n).write_csv(path)
        if compress:
            packed = path.with_suffix(".csv.gz")
            packed.write_bytes(gzip.compress(path.read_bytes()))
            path.unlink()
            path = packed
        paths.append(path)
    return paths


@pytest.mark.parametrize("compress", [False, True])
def test_csv_parts_read_as_their_concatenation(tmp_path, compress):
    frame = with_bad_rows(pl.read_parquet(SAMPLES / "events.parquet"), {5: "click", 2400: "nope"})
    plain = tmp_path / "whole.csv"
    frame.write_csv(plain)
    parts = csv_parts(frame, tmp_path / "export", [(0, 1000), (1000, 2000), (3000, 10_000)], compress)
    (tmp_path / "export" / "_SUCCESS").write_text("")
    (tmp_path / "export" / "events-000000000009.csv").write_bytes(b"")  # an empty shard: no rows
    one, report_one = load(plain, strict=False, fx=str(SAMPLES / "fx.csv"))
    many, report_many = load(tmp_path / "export", strict=False, fx=str(SAMPLES / "fx.csv"))
    assert report_many.rejects.get_column("row").to_list() == [6, 2401]
    assert report_many.rejects.drop("source").equals(report_one.rejects.drop("source"))
    assert (one.value == many.value).all() and one.channels == many.channels and (one.codes == many.codes).all()
    with pytest.raises(InputError) as info:
        load(tmp_path / "export", fx=str(SAMPLES / "fx.csv"))
    assert str(info.value).startswith(f"{tmp_path / 'export'}, row 6 ({parts[0]}, row 6), column 'event_type'")
    assert f"row 2401 ({parts[1]}, row 1401)" in str(info.value)


def test_csv_parts_that_disagree_or_break_are_refused_naming_the_part(tmp_path):
    frame = pl.read_parquet(SAMPLES / "events.parquet")
    parts = csv_parts(frame, tmp_path / "cols", [(0, 100), (100, 100)])
    frame.slice(100, 100).select(frame.columns[::-1]).write_csv(parts[1])  # the columns in another order
    with pytest.raises(InputError) as info:
        load(tmp_path / "cols")
    assert str(info.value).startswith(f"{parts[1]}, column 'margin': the header is not the one of part {parts[0]}")
    parts = csv_parts(frame, tmp_path / "quote", [(0, 100), (100, 100)])
    parts[1].write_text(parts[1].read_text() + 'u1,2026-10-01T00:00:00Z,touch,"email\n')
    with pytest.raises(InputError) as info:
        load(tmp_path / "quote")
    assert str(info.value).startswith(f"{parts[1]}"), str(info.value)
