"""Bootstrap intervals: seeded, reproducible, around the estimate, and shrinking with more data."""
from __future__ import annotations

import csv

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import shapley_attr as sa
from shapley_attr.cli import cli
from shapley_attr.config import ModelParams
from shapley_attr.frames import from_path_lists
from shapley_attr.models import fit
from shapley_attr.models.bootstrap import resample


def table(scale=1):
    paths = [["a", "b"], ["b"], ["a", "c"], ["c", "b", "a"], ["c"]]
    conv = np.array([3, 2, 1, 4, 0], dtype=float) * scale
    nulls = np.array([5, 7, 2, 3, 9], dtype=float) * scale
    return from_path_lists(paths, conv, conv * 20, nulls)


def test_resample_keeps_journeys_and_mean_values():
    t = table()
    rep = resample(t, np.random.Generator(np.random.Philox(key=3)))
    assert rep.conversions.sum() + rep.nulls.sum() == t.conversions.sum() + t.nulls.sum()
    assert np.allclose(rep.value, rep.conversions * 20)


def test_intervals_are_reproducible_and_bracket_the_estimate():
    params = ModelParams(model="shapley", game="rate", bootstrap=200, seed=5)
    a, b = fit(table(), params), fit(table(), params)
    assert np.array_equal(a.extra["bootstrap"]["low"], b.extra["bootstrap"]["low"])
    low, high = a.extra["bootstrap"]["low"], a.extra["bootstrap"]["high"]
    assert np.all(low <= a.credit[:, 1] + 1e-9) and np.all(a.credit[:, 1] <= high + 1e-9)
    other = fit(table(), ModelParams(model="shapley", game="rate", bootstrap=200, seed=6))
    assert not np.array_equal(other.extra["bootstrap"]["low"], low)
    assert a.info["bootstrap"]["replicates"] == 200


def test_intervals_shrink_with_more_journeys():
    small = fit(table(1), ModelParams(model="linear", bootstrap=300, seed=1))
    big = fit(table(100), ModelParams(model="linear", bootstrap=300, seed=1))
    width_small = (small.extra["bootstrap"]["high"] - small.extra["bootstrap"]["low"]) / small.credit[:, 1].sum()
    width_big = (big.extra["bootstrap"]["high"] - big.extra["bootstrap"]["low"]) / big.credit[:, 1].sum()
    assert np.all(width_big < width_small / 3)  # ~ 1/sqrt(100) = 1/10 in theory


# --- journeys carry their own value (MODELS.md, "Uncertainty of the data") --------------------------
def single_touch_export(seed: int, journeys: int = 20_000, sigma: float = 1.2) -> pl.DataFrame:
    """Single-touch journeys on three channels, ~30% converting, log-normal order values."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(["search", "email", "social"], size=journeys, p=[0.5, 0.3, 0.2])
    converts = rng.random(journeys) < 0.3
    value = np.round(rng.lognormal(3.0, sigma, size=journeys), 2)
    t0 = np.datetime64("2026-10-01T00:00:00", "us")
    users = [f"u{i}" for i in range(journeys)]
    touch = pl.DataFrame({"user_id": users, "event_time": t0 + (np.arange(journeys) * 1_000_000).astype("timedelta64[us]"),
                          "event_type": "touch", "channel": channel, "gmv": None, "currency": None})
    conv = pl.DataFrame({"user_id": users, "event_time": t0 + ((np.arange(journeys) + 60) * 1_000_000).astype("timedelta64[us]"),
                         "event_type": "conversion", "channel": None, "gmv": value,
                         "currency": "EUR"}).filter(pl.Series(converts))
    return pl.concat([touch, conv.select(touch.columns)], how="vertical_relaxed")


def search_values(export: pl.DataFrame) -> np.ndarray:
    """x_j: each journey's GMV when it converted after a search touch, else 0 (one entry per journey)."""
    touches = export.filter(pl.col("event_type") == "touch").select("user_id", "channel")
    conv = export.filter(pl.col("event_type") == "conversion").select("user_id", "gmv")
    joined = touches.join(conv, on="user_id", how="left").with_columns(pl.col("gmv").fill_null(0.0))
    return np.where(joined["channel"] == "search", joined["gmv"].to_numpy(), 0.0)


def test_bootstrap_interval_has_the_spread_of_order_values():
    """Last touch on single-touch journeys: the search channel's GMV is Σ x_j over J resampled
    journeys, whose sd is √J·sd(x) computed from the data; the 95% interval is ≈ 2·1.96 of that.
    Giving each draw its path's mean value made it less than half as wide."""
    export = single_touch_export(seed=11)
    x = search_values(export)
    expected_width = 2 * 1.959964 * np.sqrt(len(x)) * x.std()
    frame, attribution = sa.attribute(export, model="last", bootstrap=400, seed=2, with_report=True)
    row = frame.filter(pl.col("channel") == "search").row(0, named=True)
    ratio = (row["bootstrap_high"] - row["bootstrap_low"]) / expected_width
    assert 0.9 <= ratio <= 1.1, ratio
    assert attribution.result.info["bootstrap"]["values"] == "each journey's own value"
    assert row["bootstrap_values"] == "journey"


def test_resampled_values_are_drawn_from_the_paths_own_journeys():
    export = single_touch_export(seed=3, journeys=300)
    loaded = sa.load_table(export)
    t = loaded.table
    rep = resample(t, np.random.Generator(np.random.Philox(key=9)))
    for p in range(t.n_paths):
        own = t.journey_values[t.value_offsets[p]:t.value_offsets[p + 1]]
        if rep.conversions[p] == 0:
            assert rep.value[p] == 0.0
        else:  # a sum of c draws from the path's own values lies between c·min and c·max
            c = rep.conversions[p]
            assert c * own.min() - 1e-9 <= rep.value[p] <= c * own.max() + 1e-9
    assert rep.conversions.sum() + rep.nulls.sum() == t.conversions.sum() + t.nulls.sum()


def test_paths_input_says_its_draws_carry_the_path_mean(tmp_path):
    p = tmp_path / "paths.csv"
    p.write_text("path,total_conversions,total_conversion_value,total_null\na,3,30,5\na > b,2,50,4\nb,1,7,9\n")
    _, attribution = sa.attribute(p, model="linear", bootstrap=100, with_report=True)
    assert "mean value" in attribution.result.info["bootstrap"]["values"]
    out = tmp_path / "credits.csv"
    res = CliRunner().invoke(cli, ["attribute", str(p), "--model", "linear", "--bootstrap", "100", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {r["bootstrap_values"] for r in csv.DictReader(out.open())} == {"path_mean"}  # in the file, not only stderr


def test_bootstrap_refuses_work_it_cannot_finish():
    from shapley_attr.errors import ModelLimitError

    big = from_path_lists([["a"], ["b"]], [1e9, 1e9], [1e9, 1e9], [1e9, 1e9])
    with pytest.raises(ModelLimitError, match=r"--bootstrap 10000 on 4000000000 journeys"):
        fit(big, ModelParams(model="last", bootstrap=10_000))


@pytest.mark.slow
def test_bootstrap_interval_covers_the_population_value_about_95_percent():
    """200 exports drawn from a known population: E[search GMV] = J · P(search) · P(convert) · E[value]
    (log-normal mean e^(μ+σ²/2)); the percentile interval covers it in ~95% of the exports."""
    journeys, sigma = 4000, 1.2
    truth = journeys * 0.5 * 0.3 * np.exp(3.0 + sigma ** 2 / 2)
    covered = 0
    for seed in range(200):
        frame = sa.attribute(single_touch_export(seed, journeys, sigma), model="last", bootstrap=200, seed=seed)
        row = frame.filter(pl.col("channel") == "search").row(0, named=True)
        covered += row["bootstrap_low"] <= truth <= row["bootstrap_high"]
    assert 0.90 <= covered / 200 <= 0.99, covered


def test_bootstrap_of_an_export_without_conversions():
    # no order drawn: the replicates' values are zeros of the table's float64 (NumPy's bincount of
    # nothing is int64; it was an internal error); every interval is [0, 0]
    export = single_touch_export(seed=4, journeys=200).filter(pl.col("event_type") == "touch")
    table, attribution = sa.attribute(export, model="linear", bootstrap=100, with_report=True)
    boot = attribution.result.extra["bootstrap"]
    assert boot["replicates"] == 100
    assert not np.any(boot["low"]) and not np.any(boot["high"])
    assert table.filter(pl.col("channel") != "(direct)").get_column("gmv").sum() == 0


@pytest.mark.parametrize("replicates", [1, 2, 99])
def test_too_few_replicates_are_refused(replicates, tmp_path):
    """One replicate was written as a "95% interval" [x, x] that could exclude the credit paid on."""
    from click.testing import CliRunner

    from shapley_attr.cli import cli
    from shapley_attr.config import ConfigError

    with pytest.raises(ConfigError, match=r"--bootstrap must be 0 \(off\) or >= 100"):
        ModelParams(model="last", bootstrap=replicates)
    p = tmp_path / "paths.csv"
    p.write_text("path,total_conversions,total_conversion_value,total_null\na,3,30,5\na > b,2,50,4\n")
    result = CliRunner().invoke(cli, ["attribute", str(p), "--model", "last", "--bootstrap", str(replicates)])
    assert result.exit_code == 2 and "--bootstrap must be 0 (off) or >= 100" in result.output
    assert ModelParams(model="last", bootstrap=0).bootstrap == 0
    assert ModelParams(model="last", bootstrap=100).bootstrap == 100
