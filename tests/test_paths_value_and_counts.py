"""The paths input (DATA.md input 2): ``--value gmv`` on a table without a value column, and the
reconciliation's conversion counts when a row's count is no valid count."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shapley_attr as sa
from shapley_attr.cli import cli
from shapley_attr.errors import UsageError

from .helpers import gmv_totals, load

NO_VALUES = "path,total_conversions,total_null\nemail > search,3,1\nsearch,2,0\nemail,1,4\n"
REVENUE = "path,total_conversions,revenue,total_null\nemail > search,3,30,1\nsearch,2,20,0\nemail,1,10,4\n"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "paths.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# --- M12: --value gmv on a paths table without a value column ---------------------------------------
def test_value_gmv_without_a_value_column_is_a_usage_error(tmp_path):
    path = write(tmp_path, NO_VALUES)
    out = tmp_path / "credits.csv"
    result = run("attribute", path, "--input-kind", "paths", "--value", "gmv", "--model", "linear", "--out", out)
    assert result.exit_code == 2, result.output
    msg = result.stderr
    assert f"--value gmv: {path} has no value column" in msg
    assert "total_conversion_value" in msg and "--col total_conversion_value=" in msg and "--value conversions" in msg
    assert "Traceback" not in msg and result.stdout == "" and not out.exists()


def test_value_left_out_still_attributes_conversions(tmp_path):
    path = write(tmp_path, NO_VALUES)
    for value in ([], ["--value", "conversions"]):
        result = run("attribute", path, "--input-kind", "paths", "--model", "linear", "--format", "csv", *value)
        assert result.exit_code == 0, result.stderr
        assert "value=conversions" in result.stderr
        shares = dict(pl.read_csv(result.stdout.encode()).select("channel", "share").iter_rows())
        assert shares == pytest.approx({"email": 2.5 / 6, "search": 3.5 / 6})


def test_value_gmv_with_a_mapped_value_column(tmp_path):
    path = write(tmp_path, REVENUE)
    result = run("attribute", path, "--value", "gmv", "--model", "linear", "--format", "csv",
                 "--col", "total_conversion_value=revenue")
    assert result.exit_code == 0, result.stderr
    gmv = dict(pl.read_csv(result.stdout.encode()).select("channel", "gmv").iter_rows())
    assert gmv == pytest.approx({"email": 25.0, "search": 35.0})
    unmapped = run("attribute", path, "--value", "gmv", "--model", "linear")  # revenue is no contract column
    assert unmapped.exit_code == 2 and "has no value column" in unmapped.stderr


def test_api_value_gmv_without_a_value_column_raises_usage_error(tmp_path):
    path = write(tmp_path, NO_VALUES)
    frame = pl.read_csv(path)
    for data in (path, str(path), frame, frame.lazy()):
        with pytest.raises(UsageError, match="--value gmv: .* has no value column; .*--value conversions"):
            sa.attribute(data, value="gmv", model="linear")
        credits = sa.attribute(data, model="linear")  # the default: conversions on such a table
        assert credits["share"].sum() == pytest.approx(1.0)
    with_values = sa.attribute(frame.with_columns(total_conversion_value=pl.lit(5.0)), value="gmv", model="linear")
    assert with_values["gmv"].sum() == pytest.approx(15.0)  # 5 on each of 3 rows
    assert load(frame, value="gmv")[1].kind == "paths"  # loading alone asks for no value


# --- M13: a rejected row's count in the reconciliation -----------------------------------------------
@pytest.mark.parametrize("count", ["-2", "-0.5", "-1e300", "NaN", "inf", "-inf", "abc", "", "1e300"])
def test_an_invalid_count_adds_nothing_to_conversions_read(tmp_path, count):
    # rows: two accepted (3 + 1 conversions), the invalid count, a valid count on a row rejected for its
    # empty path (it counts in read and rejected as it is)
    path = write(tmp_path, "path,total_conversions,total_conversion_value,total_null\n"
                           f"a > b,3,30,1\nb,{count},20,0\na,1,10,4\n,2,7,0\n")
    table, report = load(path, strict=False)
    assert report.rejects["row"].to_list() == [2, 4]
    assert report.rejects["column"].to_list() == ["total_conversions", "path"]
    (totals,) = report.reconciliation.by_currency
    assert (totals.conversions_read, totals.conversions_rejected, totals.conversions_in_run) == (6, 2, 4)
    assert totals.balanced and report.reconciliation.balanced
    assert gmv_totals(report) == (67.0, 40.0, 27.0)  # the rejected rows' values as events' gmv: read and rejected
    assert table.conversions.sum() == 4


def test_reconciliation_line_shows_no_negative_count(tmp_path):
    path = write(tmp_path, "path,total_conversions,total_conversion_value,total_null\na > b,3,30,1\nb,-2,20,0\n"
                           "a,1,10,4\n")
    result = run("attribute", path, "--model", "linear", "--rejects", tmp_path / "rejects.csv", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "rows read 3 = accepted 2 + rejected 1" in result.stderr
    assert "GMV read 60 = rejected 20 + outside the run 0 + in the run 40 (4 = 0 + 0 + 4 conversions): balanced" \
        in result.stderr
    line = next(x for x in result.stderr.splitlines() if "GMV read" in x)
    assert "-" not in line


COUNTS = ["0", "1", "2.5", "7", "-1", "-3.5", "NaN", "inf", "x", "", "2e15"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b > a", "", "(direct)", "a > (direct)"]),
                               st.sampled_from(COUNTS), st.sampled_from(["0", "5", "-1", "", "NaN"])),
                     min_size=1, max_size=12))
def test_conversions_read_are_the_valid_counts(tmp_path, rows):
    path = write(tmp_path, "path,total_conversions,total_conversion_value,total_null\n"
                 + "".join(f"{p},{c},{v},0\n" for p, c, v in rows), name="fuzz.csv")
    _, report = load(path, strict=False)
    (totals,) = report.reconciliation.by_currency

    def valid(c: str) -> float:
        try:
            x = float(c)
        except ValueError:
            return 0.0
        return x if 0 <= x <= 1e15 else 0.0  # NaN and inf fail the comparison

    assert totals.conversions_read == sum(valid(c) for _, c, _ in rows)
    assert totals.conversions_read >= 0 and totals.conversions_rejected >= 0
    assert totals.conversions_read == totals.conversions_rejected + totals.conversions_in_run
    assert totals.balanced and report.reconciliation.balanced


def test_a_paths_parquet_whose_text_is_not_utf8_is_refused_not_an_internal_error(tmp_path):
    """Polars' reader refuses such a file when the rows are collected; that collect ran outside the
    decoding guard, so a user's bad file was an internal error (exit 1). The Spark engine's twin is in
    test_spark_utf8.py."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pa.array([b"a > b", b"\xc3( > b"], pa.binary()).cast(pa.string(), safe=False)
    path = tmp_path / "paths.parquet"
    pq.write_table(pa.table({"path": column, "total_conversions": [3, 2]}), path)
    res = CliRunner().invoke(cli, ["attribute", str(path), "--model", "linear"])
    assert res.exit_code == 2, res.output
    assert f"error: {path}: cannot be read (corrupt or truncated data?): " in res.output


def test_a_path_as_a_fixed_size_list_of_labels_is_read_as_a_list(tmp_path):
    """A path stored as Arrow's fixed_size_list of labels (Polars' Array) was refused ("holds
    Array(String, shape=(2,))") where a list of labels is read and Spark reads that file as a list:
    now read as the same list, the same credits as the path joined as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    counts = {"total_conversions": [1, 2, 0], "total_conversion_value": [10.5, 3.0, 0.0], "total_null": [0, 1, 4]}
    fixed, text = tmp_path / "fixed.parquet", tmp_path / "text.parquet"
    pq.write_table(pa.table({"path": pa.array([["a", "b"], ["b", "c"], ["a", "a"]], pa.list_(pa.string(), 2))}
                            | counts), fixed)
    pq.write_table(pa.table({"path": ["a > b", "b > c", "a > a"]} | counts), text)
    for model in ("last", "linear"):
        assert sa.attribute(fixed, model=model).equals(sa.attribute(text, model=model))
