"""Sizes and input types at the edges of the models and of the paths input: refused with the numbers
(exit 2), never an internal error and never a wrong number. Each test was a defect found by a hostile
battery of the models."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import shapley_attr as sa
from shapley_attr.cli import cli
from shapley_attr.config import ColumnMapping, ConfigError
from shapley_attr.errors import InputError, ModelLimitError, UsageError


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_values_beyond_exact_sums_are_refused_not_wrapped_around(tmp_path):
    # identical paths summed in int64 millionths wrapped: a > b, 2 x 5e12 -> -4.2e12 each, "balanced"
    paths = tmp_path / "p.csv"
    paths.write_text("path,total_conversions,total_conversion_value,total_null\na > b,1,5e12,0\na > b,1,5e12,0\n")
    res = invoke("attribute", paths, "--model", "linear", "--format", "csv")
    assert res.exit_code == 2 and "sum to 1e+13" in res.output and "exact sums" in res.output, res.output
    # events: 100 orders of 1e11 VND on one path
    t0 = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    rows = []
    for u in range(100):
        rows.append((f"u{u}", t0 + dt.timedelta(hours=u), "touch", "seo", None, None))
        rows.append((f"u{u}", t0 + dt.timedelta(hours=u, minutes=5), "conversion", None, f"o{u}", 1e11))
    frame = pl.DataFrame(rows, schema={"user_id": pl.Utf8, "event_time": pl.Datetime("us", "UTC"),
                                       "event_type": pl.Utf8, "channel": pl.Utf8, "order_id": pl.Utf8,
                                       "gmv": pl.Float64}, orient="row")
    with pytest.raises(ModelLimitError, match="1e\\+13 VND"):
        sa.attribute(frame, currency="VND", model="last")
    under = frame.with_columns(pl.col("gmv") / 2)  # 5e12 in all: attributed exactly
    got = sa.attribute(under, currency="VND", model="last")
    assert got["gmv"].to_list() == [5e12]


@pytest.mark.parametrize("column,values", [
    ("total_conversions", [dt.date(2020, 1, 1), dt.date(2020, 1, 2)]),  # read as 18262 conversions
    ("total_conversions", [True, False]),
    ("total_conversion_value", [dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2)]),
])
def test_a_paths_count_of_another_type_is_refused(tmp_path, column, values):
    frame = pl.DataFrame({"path": ["a > b", "a"], "total_conversions": [1, 2], "total_conversion_value": [1.0, 5.0],
                          "total_null": [3, 4]}).with_columns(pl.Series(column, values))
    frame.write_parquet(tmp_path / "p.parquet")
    with pytest.raises(InputError, match=f"column '{column}' holds") as info:
        sa.load_table(tmp_path / "p.parquet")
    assert info.value.issue.column == column


def test_a_path_stored_as_a_list_of_labels(tmp_path):
    lists = pl.DataFrame({"path": [["a", "b"], ["a"], [" a ", "b"]], "total_conversions": [1, 2, 1],
                          "total_conversion_value": [1.0, 5.0, 2.0], "total_null": [3, 4, 0]})
    text = lists.with_columns(pl.Series("path", ["a > b", "a", "a > b"]))
    got = sa.attribute(lists, model="linear")
    assert got.equals(sa.attribute(text, model="linear"))
    with pytest.raises(InputError, match="column 'path' holds"):
        sa.attribute(text.with_columns(pl.Series("path", [1, 2, 3])), model="linear")


def test_exact_subset_rate_over_a_thousand_channels_is_refused_with_its_numbers(tmp_path):
    paths = tmp_path / "p.csv"
    paths.write_text("path,total_conversions,total_conversion_value,total_null\n"
                     + "".join(f"c{i},1,1,1\n" for i in range(1100)))
    res = invoke("attribute", paths, "--game", "subset-rate", "--method", "exact", "--format", "csv")
    assert res.exit_code == 2 and "2^1100 float64 (2^1074 GiB)" in res.output, res.output


def test_a_markov_order_whose_states_do_not_fit_is_refused():
    from shapley_attr.frames import from_path_lists
    from shapley_attr.models import fit

    table = from_path_lists([[f"c{i}" for i in range(j, j + 2)] for j in range(0, 47_000, 2)], [1.0] * 23_500,
                            [1.0] * 23_500, [0.0] * 23_500)
    with pytest.raises(ModelLimitError, match="order 4 over 47000 channels"):
        fit(table, sa.ModelParams(model="markov", order=4))


def test_an_empty_separator_is_a_usage_error():
    with pytest.raises(ConfigError, match="--sep"):
        ColumnMapping(sep="")
    res = invoke("attribute", "missing.csv", "--sep", "")
    assert res.exit_code == 2 and "--sep" in res.output


def test_a_period_on_a_paths_table_is_refused(tmp_path):
    # it was ignored: every conversion of the table attributed as the month's
    paths = tmp_path / "p.csv"
    paths.write_text("path,total_conversions,total_conversion_value,total_null\na > b,1,5,0\n")
    with pytest.raises(UsageError, match="no dates"):
        sa.attribute(paths, period="2026-10")


def test_too_few_monte_carlo_permutations_are_refused(tmp_path):
    # --max-samples 2 ran 2 antithetic pairs: on 3 channels the same permutation twice, a standard
    # error of 0 and the interval [1.25, 1.25] around a credit whose exact value is 3.96
    from shapley_attr.config import MIN_MAX_SAMPLES, ModelParams

    for n in (2, 3, MIN_MAX_SAMPLES - 1):
        with pytest.raises(ConfigError, match="--max-samples must be >= 100"):
            ModelParams(game="subset-rate", method="mc", max_samples=n)
    paths = tmp_path / "p.csv"
    paths.write_text("path,total_conversions,total_conversion_value,total_null\na > b,1,10,3\nb > c,1,5,1\nc,0,0,4\n")
    res = invoke("attribute", paths, "--game", "subset-rate", "--method", "mc", "--max-samples", MIN_MAX_SAMPLES,
                 "--format", "csv", "--quiet")
    assert res.exit_code == 0, res.output
    mc = pl.read_csv(res.stdout.encode())
    exact = pl.read_csv(invoke("attribute", paths, "--game", "subset-rate", "--method", "exact", "--format", "csv",
                               "--quiet").stdout.encode())
    # on 3 channels the post-stratified antithetic estimate is exact once each stratum holds 2 pairs
    # (a pair's two arrivals at positions k and 2-k see fixed coalitions): a zero error is then true
    miss = (mc["gmv"] - exact["gmv"]).abs()
    assert (miss <= 1.96 * mc["std_error"] + 1e-9).all(), (mc, exact)
